/** The PKI inputs an inventory defines: cluster-wide settings and each node's identity. */
import { API_PORT, apiEndpoint, isControlPlane, resolveHosts, type ResolvedHost } from '../inventory/resolve.js';
import type { Inventory } from '../inventory/schema.js';
import { durationHours } from '../util/duration.js';
import { parseVersion } from '../util/version.js';
import { parseServiceSubnet, serverUrl, type ClusterPki, type NodePki } from './catalogue.js';
import type { PkiNode } from './cluster-pki.js';

export function clusterPki(inv: Inventory): ClusterPki {
  const c = inv.cluster;
  const version = parseVersion(c.kubernetesVersion);
  if (!version) throw new Error(`invalid kubernetesVersion ${c.kubernetesVersion}`);
  return {
    version,
    clusterName: c.name,
    dnsDomain: c.networking.dnsDomain,
    serviceSubnet: parseServiceSubnet(c.networking.serviceSubnet),
    controlPlaneEndpoint: apiEndpoint(inv),
    certSANs: c.certificates.certSANs,
    validityHours: durationHours(c.certificates.validity),
    caValidityHours: durationHours(c.certificates.caValidity),
    keyAlgorithm: c.certificates.keyAlgorithm,
    externalEtcd: c.etcd.external !== undefined,
  };
}

export function nodePki(host: ResolvedHost): NodePki {
  if (!host.advertiseAddress) throw new Error(`${host.name}: no advertise address (set hosts[].advertiseAddress)`);
  return { nodeName: host.nodeName, advertiseAddress: host.advertiseAddress, bindPort: API_PORT };
}

/** Every host that needs PKI material: control planes get the full set, workers the CA. */
export function pkiNodes(inv: Inventory): PkiNode[] {
  return resolveHosts(inv).map((h) => ({ node: nodePki(h), controlPlane: isControlPlane(h) }));
}

/**
 * The API server URL as reached from outside the nodes (the workstation, a node before it is
 * prepared): the endpoint, except in node-local mode, whose name only resolves on the nodes;
 * then the control plane `cp` itself.
 */
export function outsideServer(inv: Inventory, cp: ResolvedHost): string {
  return serverUrl(clusterPki(inv), nodePki(cp), inv.cluster.apiLoadBalancer.mode === 'node-local' ? 'local' : 'endpoint');
}
