/**
 * Kubernetes package repositories: the pkgs.k8s.io layout (one repository per minor release)
 * and the legacy layout that mirrors such as Aliyun's kubernetes/ tree still serve.
 */
export interface RepoInput {
  readonly base: string;
  readonly layout: 'pkgs.k8s.io' | 'legacy';
  readonly minor: number;
  readonly unsigned: boolean;
}

export interface RepoDefinition {
  readonly path: string;
  readonly content: string;
  /** Where the signing key comes from and where it goes; absent for unsigned mirrors. */
  readonly key?: { readonly url: string; readonly path: string };
}

export const KUBE_PACKAGES = ['kubelet', 'kubectl', 'cri-tools'] as const;

const UPSTREAM = 'https://pkgs.k8s.io';

/** The repository the inventory's cluster.packages names (pkgs.k8s.io unless a mirror is set). */
export function repoInputOf(
  packages: { source: string; mirror?: string; mirrorLayout: RepoInput['layout']; unsigned: boolean },
  minor: number,
): RepoInput {
  const mirror = packages.source === 'mirror';
  return {
    base: mirror ? packages.mirror! : UPSTREAM,
    layout: mirror ? packages.mirrorLayout : 'pkgs.k8s.io',
    minor,
    unsigned: packages.unsigned,
  };
}

/** Where an apt repository of the layout lives: the URL and suite of its `deb` line, and its signing key. */
export function aptLocation(r: Omit<RepoInput, 'unsigned'>): { url: string; suite: string; keyUrl: string } {
  const base = r.base.replace(/\/$/, '');
  return r.layout === 'pkgs.k8s.io'
    ? { url: `${base}/core:/stable:/v1.${r.minor}/deb/`, suite: '/', keyUrl: `${base}/core:/stable:/v1.${r.minor}/deb/Release.key` }
    : { url: `${base}/apt/`, suite: 'kubernetes-xenial main', keyUrl: `${base}/apt/doc/apt-key.gpg` };
}

export function aptRepo(r: RepoInput): RepoDefinition {
  const { url, suite, keyUrl } = aptLocation(r);
  const keyPath = r.layout === 'pkgs.k8s.io' ? '/etc/apt/keyrings/kubernetes.asc' : '/etc/apt/keyrings/kubernetes.gpg';
  const options = r.unsigned ? '[trusted=yes]' : `[signed-by=${keyPath}]`;
  return {
    path: '/etc/apt/sources.list.d/kubernetes.list',
    content: `# Managed by kubestrap: Kubernetes 1.${r.minor} packages\ndeb ${options} ${url} ${suite}\n`,
    ...(r.unsigned ? {} : { key: { url: keyUrl, path: keyPath } }),
  };
}

/** Where a yum repository of the layout lives (its baseurl, with yum's $basearch), and its signing keys. */
export function rpmLocation(r: Omit<RepoInput, 'unsigned'>): { url: string; keys: string } {
  const base = r.base.replace(/\/$/, '');
  return r.layout === 'pkgs.k8s.io'
    ? { url: `${base}/core:/stable:/v1.${r.minor}/rpm/`, keys: `${base}/core:/stable:/v1.${r.minor}/rpm/repodata/repomd.xml.key` }
    : { url: `${base}/yum/repos/kubernetes-el7-$basearch/`, keys: `${base}/yum/doc/yum-key.gpg ${base}/yum/doc/rpm-package-key.gpg` };
}

export function rpmRepo(r: RepoInput): RepoDefinition {
  const { url, keys } = rpmLocation(r);
  const check = r.unsigned ? 'gpgcheck=0\nrepo_gpgcheck=0' : `gpgcheck=1\ngpgkey=${keys}`;
  return {
    path: '/etc/yum.repos.d/kubernetes.repo',
    content: `# Managed by kubestrap: Kubernetes 1.${r.minor} packages\n[kubernetes]\nname=Kubernetes\nbaseurl=${url}\nenabled=1\n${check}\n# upgraded only on purpose (kubestrap upgrade), never by a routine yum update\nexclude=kubelet kubeadm kubectl cri-tools kubernetes-cni\n`,
  };
}

/** The package version string to pin, per layout and package manager. */
export function packageVersion(version: string, layout: RepoInput['layout'], apt: boolean): string {
  const v = version.replace(/^v/, '');
  if (layout === 'legacy') return apt ? `${v}-00` : `${v}-0`;
  return apt ? `${v}-*` : v;
}

/** The yum repository of newer kernels (kernel-ml), off by default and signature-checked (audit L8). */
export function kernelRepo(baseUrl: string, gpgKey: string): string {
  return `# Managed by kubestrap: newer kernels (preparation.kernel.repository)\n[kubestrap-kernel]\nname=kernel-ml for Kubernetes nodes\nbaseurl=${baseUrl}\nenabled=0\ngpgcheck=1\ngpgkey=${gpgKey}\n`;
}
