/** Writes inventories for lab hosts: pinned host keys, the lab's client key, chosen roles. */
import { stringify } from 'yaml';
import type { Lab } from './lab.js';

export interface LabInventoryOptions {
  readonly controlPlanes?: number;
  /** Login user for every host (root, ops with sudo password, deploy with passwordless sudo). */
  readonly user?: 'root' | 'ops' | 'deploy';
  /** Pin host keys in the inventory (default true); false leaves it to known_hosts. */
  readonly pinHostKeys?: boolean;
  readonly knownHostsFile?: string;
  readonly extraHosts?: ReadonlyArray<Record<string, unknown>>;
  /** Control planes that run workloads too (roles control-plane and worker). */
  readonly workloadControlPlanes?: readonly string[];
  readonly cluster?: Record<string, unknown>;
}

export function labInventoryObject(lab: Lab, options: LabInventoryOptions = {}): Record<string, unknown> {
  const controlPlanes = options.controlPlanes ?? 1;
  const user = options.user ?? 'root';
  return {
    apiVersion: 'kubestrap.dev/v1alpha1',
    kind: 'Cluster',
    hostDefaults: {
      user,
      auth: { keyPath: lab.clientKey },
      ...(user === 'ops' ? { sudo: { mode: 'password', passwordEnv: 'KUBESTRAP_LAB_SUDO_PASSWORD' } } : {}),
      ...(options.knownHostsFile ? { knownHostsFile: options.knownHostsFile } : {}),
      connectTimeoutSeconds: 5,
    },
    hosts: [
      ...lab.hosts.map((h, i) => ({
        name: h.name,
        address: h.ip,
        ...(options.pinHostKeys === false ? {} : { hostKey: h.hostKey }),
        roles:
          i >= controlPlanes
            ? ['worker']
            : options.workloadControlPlanes?.includes(h.name)
              ? ['control-plane', 'worker']
              : ['control-plane'],
      })),
      ...(options.extraHosts ?? []),
    ],
    cluster: {
      kubernetesVersion: 'v1.23.17',
      networking: { podSubnet: '172.168.0.0/16', serviceSubnet: '10.96.0.0/12' },
      ...(options.cluster ?? {}),
    },
  };
}

export function labInventory(lab: Lab, options: LabInventoryOptions = {}): string {
  return stringify(labInventoryObject(lab, options));
}
