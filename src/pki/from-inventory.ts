/** The PKI inputs an inventory defines: cluster-wide settings and each node's identity. */
import { isControlPlane, resolveHosts, type ResolvedHost } from '../inventory/resolve.js';
import type { Inventory } from '../inventory/schema.js';
import { durationHours } from '../util/duration.js';
import { parseVersion } from '../util/version.js';
import { parseServiceSubnet, type ClusterPki, type NodePki } from './catalogue.js';
import type { PkiNode } from './cluster-pki.js';

export const API_BIND_PORT = 6443;

export function clusterPki(inv: Inventory): ClusterPki {
  const c = inv.cluster;
  const version = parseVersion(c.kubernetesVersion);
  if (!version) throw new Error(`invalid kubernetesVersion ${c.kubernetesVersion}`);
  return {
    version,
    clusterName: c.name,
    dnsDomain: c.networking.dnsDomain,
    serviceSubnet: parseServiceSubnet(c.networking.serviceSubnet),
    controlPlaneEndpoint: c.controlPlaneEndpoint,
    certSANs: c.certificates.certSANs,
    validityHours: durationHours(c.certificates.validity),
    caValidityHours: durationHours(c.certificates.caValidity),
    keyAlgorithm: c.certificates.keyAlgorithm,
  };
}

export function nodePki(host: ResolvedHost): NodePki {
  if (!host.advertiseAddress) throw new Error(`${host.name}: no advertise address (set hosts[].advertiseAddress)`);
  return { nodeName: host.nodeName, advertiseAddress: host.advertiseAddress, bindPort: API_BIND_PORT };
}

/** Every host that needs PKI material: control planes get the full set, workers the CA. */
export function pkiNodes(inv: Inventory): PkiNode[] {
  return resolveHosts(inv).map((h) => ({ node: nodePki(h), controlPlane: isControlPlane(h) }));
}
