/**
 * The add-ons an inventory asks for, as API objects: kube-proxy, CoreDNS, the CNI and
 * metrics-server. cluster-objects applies them; a bundle carries the images they name.
 */
import { resolveHosts, runsWorkloads } from '../inventory/resolve.js';
import type { Inventory } from '../inventory/schema.js';
import { parseVersion, versionTag } from '../util/version.js';
import { coreDnsImage } from '../../templates/versions.js';
import { flannelObjects } from '../../templates/flannel.js';
import { coreDnsObjects, kubeProxyObjects } from './addons.js';
import { calicoObjects, loadCalicoManifest } from './calico.js';
import { metricsServerObjects } from './metrics-server.js';
import { clusterDnsIp } from './node-files.js';
import type { KubeObject } from '../../templates/objects.js';

/** The Calico manifest the inventory names (downloaded and checked, or read), when Calico is the CNI. */
export async function inventoryCalicoManifest(inv: Inventory): Promise<string | undefined> {
  const cni = inv.cluster.cni;
  return cni.plugin === 'calico' ? loadCalicoManifest(cni.calicoManifest!, cni.calicoManifestSha256) : undefined;
}

/** The add-on objects for an API at `server`; `calicoManifest` is the Calico release manifest when Calico is the CNI. */
export function addonObjects(inv: Inventory, server: string, calicoManifest: string | undefined): KubeObject[] {
  const c = inv.cluster;
  const version = parseVersion(c.kubernetesVersion)!;
  const cniInput = { podSubnet: c.networking.podSubnet, mtu: c.cni.mtu, imageRepository: c.cni.imageRepository };
  // disruption budgets and a second metrics-server need a second node that can hold the pod while
  // one is drained: a budget with one such node would hold a drain forever. A taint of the
  // inventory keeps these pods off a node (they tolerate only the control planes' own).
  const untainted = resolveHosts(inv).filter((h) => h.taints.every((t) => t.effect === 'PreferNoSchedule'));
  return [
    ...(c.addons.kubeProxy
      ? kubeProxyObjects({
          image: `${c.imageRepository}/kube-proxy:${versionTag(version)}`,
          minor: version.minor,
          server,
          podSubnet: c.networking.podSubnet,
          mode: c.kubeProxy.mode,
          ipvsScheduler: c.kubeProxy.ipvsScheduler,
          conntrackMaxPerCore: c.kubeProxy.conntrackMaxPerCore,
        })
      : []),
    ...(c.addons.coreDNS
      ? coreDnsObjects({
          image: coreDnsImage(c.imageRepository, version.minor),
          dnsDomain: c.networking.dnsDomain,
          clusterDns: clusterDnsIp(inv),
          minor: version.minor,
          disruptionBudget: untainted.length >= 2,
        })
      : []),
    ...(c.cni.plugin === 'flannel' ? flannelObjects(cniInput) : []),
    ...(c.cni.plugin === 'calico' ? calicoObjects(calicoManifest!, cniInput) : []),
    ...(c.addons.metricsServer
      ? metricsServerObjects({
          imageRepository: c.imageRepository,
          insecureTls: c.addons.metricsServerInsecureTLS,
          minor: version.minor,
          highAvailability: untainted.filter(runsWorkloads).length >= 2,
        })
      : []),
  ];
}
