/** Version-dependent facts of Kubernetes releases that kubestrap needs before it talks to a cluster. */

/** The pause (sandbox) image tag kubeadm uses for each minor release. */
const PAUSE: Readonly<Record<number, string>> = {
  20: '3.2', 21: '3.4.1', 22: '3.5', 23: '3.6', 24: '3.7', 25: '3.8', 26: '3.9', 27: '3.9', 28: '3.9', 29: '3.9', 30: '3.9', 31: '3.10', 32: '3.10', 33: '3.10',
};

export function pauseTag(minor: number): string {
  const tag = PAUSE[minor];
  if (!tag) throw new Error(`no pause image version known for Kubernetes 1.${minor}`);
  return tag;
}

/** The sandbox image as kubelet and containerd must agree on it: from the cluster's image repository. */
export function sandboxImage(imageRepository: string, minor: number, override?: string): string {
  return override ?? `${imageRepository}/pause:${pauseTag(minor)}`;
}

/** The etcd image tag kubeadm pairs with each minor release (cluster.etcd.imageTag overrides). */
const ETCD: Readonly<Record<number, string>> = {
  20: '3.4.13-0', 21: '3.4.13-0', 22: '3.5.0-0', 23: '3.5.6-0', 24: '3.5.6-0', 25: '3.5.6-0', 26: '3.5.6-0', 27: '3.5.7-0', 28: '3.5.9-0', 29: '3.5.10-0', 30: '3.5.12-0', 31: '3.5.15-0', 32: '3.5.16-0', 33: '3.5.21-0',
};

export function etcdImageTag(minor: number, override?: string): string {
  const tag = override ?? ETCD[minor];
  if (!tag) throw new Error(`no etcd version known for Kubernetes 1.${minor}`);
  return tag;
}

/** CoreDNS tag per minor release. */
const COREDNS: Readonly<Record<number, string>> = {
  20: '1.7.0', 21: 'v1.8.0', 22: 'v1.8.4', 23: 'v1.8.6', 24: 'v1.8.6', 25: 'v1.9.3', 26: 'v1.9.3', 27: 'v1.10.1', 28: 'v1.10.1', 29: 'v1.11.1', 30: 'v1.11.1', 31: 'v1.11.3', 32: 'v1.11.3', 33: 'v1.12.0',
};

const UPSTREAM_REGISTRIES = ['registry.k8s.io', 'k8s.gcr.io'];

/**
 * CoreDNS's image. Upstream keeps it one level down (coredns/coredns) since 1.21; mirrors such as
 * registry.cn-hangzhou.aliyuncs.com/google_containers keep every image flat, so, like kubeadm,
 * a custom image repository gets <repository>/coredns:<tag>.
 */
export function coreDnsImage(imageRepository: string, minor: number): string {
  const tag = COREDNS[minor];
  if (!tag) throw new Error(`no CoreDNS version known for Kubernetes 1.${minor}`);
  const nested = minor >= 21 && UPSTREAM_REGISTRIES.includes(imageRepository);
  return `${imageRepository}/${nested ? 'coredns/coredns' : 'coredns'}:${tag}`;
}
