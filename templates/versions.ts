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
