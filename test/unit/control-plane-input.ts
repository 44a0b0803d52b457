/** Rendering input for a 1.20.2 control plane on kubeadm's defaults, for tests that vary a part of it. */
import type { ComponentSettings, ControlPlaneInput } from '../../templates/control-plane.js';

/** A component with nothing added to kubeadm's flags, volumes and environment. */
export const NO_EXTRAS: ComponentSettings = { extraArgs: {}, extraVolumes: [], extraEnvs: [] };

export function kubeadmDefaultControlPlane(overrides: Partial<ControlPlaneInput> = {}): ControlPlaneInput {
  return {
    minor: 20,
    patch: 2,
    kubernetesVersion: 'v1.20.2',
    nodeName: 'cp-1',
    advertiseAddress: '10.0.0.1',
    bindPort: 6443,
    imageRepository: 'registry.local',
    etcdImageTag: '3.4.23',
    clusterName: 'kubernetes',
    dnsDomain: 'cluster.local',
    serviceSubnet: '10.96.0.0/12',
    podSubnet: '10.244.0.0/16',
    presentCaDirs: [],
    apiServer: NO_EXTRAS,
    controllerManager: NO_EXTRAS,
    scheduler: NO_EXTRAS,
    etcd: NO_EXTRAS,
    ...overrides,
  };
}
