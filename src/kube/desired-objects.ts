/** Every API object kubestrap keeps in a cluster: kubeadm's bootstrap objects and the add-ons. */
import { addonObjects } from './addon-set.js';
import { clusterObjects } from './cluster-objects.js';
import { clusterConfiguration } from './kubeadm-config.js';
import { kubeletInput } from './node-files.js';
import type { KubeObject } from '../../templates/objects.js';
import type { ResolvedHost } from '../inventory/resolve.js';
import type { Inventory } from '../inventory/schema.js';
import { serverUrl } from '../pki/catalogue.js';
import { clusterPki, nodePki } from '../pki/from-inventory.js';
import { parseVersion } from '../util/version.js';
import { kubeletConfiguration } from '../../templates/kubelet.js';

/**
 * Every API object of the cluster, for the first control plane `spec` (its current host name:
 * `hostname`); `calicoManifest` is the Calico release manifest when Calico is the CNI.
 */
export function desiredObjects(
  inv: Inventory,
  spec: ResolvedHost,
  hostname: string,
  caCertPem: string,
  calicoManifest: string | undefined,
): KubeObject[] {
  const version = parseVersion(inv.cluster.kubernetesVersion)!;
  const server = serverUrl(clusterPki(inv), nodePki(spec), 'endpoint');
  return [
    ...clusterObjects({
      version,
      server,
      caCertPem,
      clusterConfiguration: clusterConfiguration(inv),
      kubeletConfiguration: kubeletConfiguration(kubeletInput(inv, spec, hostname)),
    }),
    ...addonObjects(inv, server, calicoManifest),
  ];
}
