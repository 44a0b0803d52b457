/** The e2e lab's inventory: its control planes and workers, on the lab's Kubernetes nodes. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { tempDir } from '../lab/helpers.js';
import { labInventoryObject, type LabInventoryOptions } from '../lab/inventory.js';
import { IMAGE_REPOSITORY, POD_SUBNET, SERVICE_SUBNET, startClusterLab, type ClusterLab, type ClusterLabOptions } from './cluster-lab.js';

export function e2eInventoryObject(
  cluster: ClusterLab,
  overrides: Record<string, unknown> = {},
  options: Pick<LabInventoryOptions, 'workloadControlPlanes'> = {},
): Record<string, unknown> {
  return labInventoryObject(cluster.lab, {
    ...options,
    controlPlanes: cluster.controlPlanes.length,
    cluster: {
      kubernetesVersion: cluster.kubernetesVersion,
      networking: { podSubnet: POD_SUBNET, serviceSubnet: SERVICE_SUBNET },
      imageRepository: IMAGE_REPOSITORY,
      packages: { source: 'mirror', mirror: cluster.packageMirror, mirrorLayout: 'pkgs.k8s.io', unsigned: true },
      // nodes are containers sharing one kernel: no CAP_SYS_RESOURCE, no systemd cgroup delegation
      containerRuntime: { cgroupDriver: 'cgroupfs', restrictOOMScoreAdj: true },
      // the lab kernel has no IPVS; conntrack limits are machine-wide (read-only in a node)
      kubeProxy: { mode: 'iptables', conntrackMaxPerCore: 0 },
      // the lab's etcd image is Debian's etcd, tagged with the version it is
      etcd: { imageTag: cluster.etcdImageTag },
      // Flannel (VXLAN), CoreDNS, kube-proxy and metrics-server from the lab's images, as kubestrap deploys them
      cni: { plugin: 'flannel', imageRepository: IMAGE_REPOSITORY },
      ...overrides,
    },
  });
}

export function e2eInventory(
  cluster: ClusterLab,
  overrides: Record<string, unknown> = {},
  options: Pick<LabInventoryOptions, 'workloadControlPlanes'> = {},
): string {
  return `# kubestrap e2e lab (generated): real 1.20.2 nodes, images under ${IMAGE_REPOSITORY}\n${stringify(e2eInventoryObject(cluster, overrides, options))}`;
}

/** A cluster lab started with `options`, and its inventory written to a scratch directory named `scratch`. */
export async function startWithInventory(scratch: string, options: ClusterLabOptions): Promise<{ cluster: ClusterLab; inventory: string }> {
  const cluster = await startClusterLab(options);
  const inventory = join(tempDir(scratch), 'inventory.yaml');
  writeFileSync(inventory, e2eInventory(cluster));
  return { cluster, inventory };
}
