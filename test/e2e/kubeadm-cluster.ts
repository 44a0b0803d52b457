/**
 * A cluster made the way kubeadm's users make it (the reference kubeadm 1.20.2, built from
 * Debian's source; test infrastructure, not part of kubestrap), driven over SSH: each node
 * prepared by hand as kubeadm's documentation says, `kubeadm init` on the control plane,
 * `kubeadm join` on the workers. The baseline proves the lab with it; adoption starts from it.
 */
import type { Host } from '../../src/transport/host.js';
import { IMAGE_REPOSITORY, POD_SUBNET, SERVICE_SUBNET, type ClusterLab } from './cluster-lab.js';
import type { LabHost } from '../lab/lab.js';

// What kubeadm's documentation has users do by hand on every node before `kubeadm init/join`.
const CONTAINERD_CONFIG = `version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${IMAGE_REPOSITORY}/pause:3.2"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
`;

const MODULES = 'overlay br_netfilter';
const SYSCTLS = 'net.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\n';

/**
 * The runbook's one preparation script per node: swap off (now and in fstab), the kernel modules
 * (loaded, and listed for boot; a lab node has no loadable modules, so a failed modprobe is let
 * pass), the kernel settings (persisted, then loaded), containerd configured, the packages from
 * the lab mirror.
 */
export function prepareKubeadmNode(host: Host, mirror: string): Promise<unknown> {
  return host.check(
    [
      `swapoff -a && sed -i '/\\sswap\\s/ s/^#*/#/' /etc/fstab`,
      `printf '%s\\n' ${MODULES} > /etc/modules-load.d/k8s.conf && { modprobe -a ${MODULES} 2>/dev/null || true; }`,
      `printf '${SYSCTLS}' > /etc/sysctl.d/k8s.conf && sysctl -q -p /etc/sysctl.d/k8s.conf`,
      `printf '%s' '${CONTAINERD_CONFIG}' > /etc/containerd/config.toml && systemctl restart containerd`,
      `echo 'deb [trusted=yes] ${mirror}/core:/stable:/v1.20/deb/ /' > /etc/apt/sources.list.d/kubernetes.list`,
      `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubelet=1.20.2-1.1 kubeadm=1.20.2-1.1 kubectl=1.20.2-1.1 cri-tools >/dev/null`,
      'apt-mark hold kubelet kubeadm kubectl >/dev/null',
    ].join(' && '),
    { timeoutMs: 300_000 },
  );
}

// Checks that cannot pass on a lab node, each for a reason of the lab, not of the cluster:
// no kernel config or loadable modules in this VM, no CoreDNS image.
const IGNORED_PREFLIGHT = 'SystemVerification,ImagePull';

/** kubeadm's etcd section: stacked (kubeadm's default), or an external etcd's endpoints and client files. */
export type KubeadmEtcd =
  | { readonly local: { readonly imageTag: string } }
  | {
      readonly external: {
        readonly endpoints: readonly string[];
        readonly caFile: string;
        readonly certFile: string;
        readonly keyFile: string;
      };
    };

/** What a runbook may set beyond the lab's defaults: etcd (stacked by default), and the endpoint further control planes need. */
export interface KubeadmInitOptions {
  readonly etcd?: KubeadmEtcd;
  readonly controlPlaneEndpoint?: string;
}

/** kubeadm's configuration as a runbook writes it (v1beta2, the API version 1.20 writes). */
function kubeadmConfig(cluster: ClusterLab, options: KubeadmInitOptions): string {
  return [
    {
      apiVersion: 'kubeadm.k8s.io/v1beta2',
      kind: 'InitConfiguration',
      localAPIEndpoint: { advertiseAddress: cluster.controlPlane.ip, bindPort: 6443 },
      nodeRegistration: { criSocket: '/run/containerd/containerd.sock' },
    },
    {
      apiVersion: 'kubeadm.k8s.io/v1beta2',
      kind: 'ClusterConfiguration',
      kubernetesVersion: cluster.kubernetesVersion,
      imageRepository: IMAGE_REPOSITORY,
      etcd: options.etcd ?? { local: { imageTag: cluster.etcdImageTag } },
      ...(options.controlPlaneEndpoint ? { controlPlaneEndpoint: options.controlPlaneEndpoint } : {}),
      networking: { podSubnet: POD_SUBNET, serviceSubnet: SERVICE_SUBNET },
    },
    { apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', cgroupDriver: 'cgroupfs' },
    { apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration', conntrack: { maxPerCore: 0 } },
  ]
    .map((doc) => JSON.stringify(doc))
    .join('\n---\n');
}

/** `kubeadm init` on the control plane; returns the join command it prints for the workers. */
export async function kubeadmInit(cluster: ClusterLab, cp: Host, options: KubeadmInitOptions = {}): Promise<string> {
  await cp.writeFiles([{ path: '/root/kubeadm.yaml', content: kubeadmConfig(cluster, options), mode: 0o600 }]);
  await cp.check(
    `kubeadm init --config /root/kubeadm.yaml --ignore-preflight-errors=${IGNORED_PREFLIGHT} >/root/kubeadm-init.log 2>&1 || { tail -40 /root/kubeadm-init.log >&2; exit 1; }`,
    { timeoutMs: 600_000 },
  );
  return (await cp.check('kubeadm token create --print-join-command')).stdout.trim();
}

/** `kubeadm join` on the given workers, in parallel, as a runbook's loop over the hosts does. */
export async function kubeadmJoin(hosts: ReadonlyMap<string, Host>, workers: readonly LabHost[], joinCommand: string): Promise<void> {
  await Promise.all(
    workers.map((w) =>
      hosts
        .get(w.name)!
        .check(
          `${joinCommand} --cri-socket /run/containerd/containerd.sock --ignore-preflight-errors=SystemVerification >/root/kubeadm-join.log 2>&1 || { tail -40 /root/kubeadm-join.log >&2; exit 1; }`,
          { timeoutMs: 600_000 },
        ),
    ),
  );
}
