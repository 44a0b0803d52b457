/**
 * Where a node's Kubernetes packages come from, read from the repository file a runbook (or
 * kubeadm's install guide) writes: /etc/apt/sources.list.d/kubernetes.list or
 * /etc/yum.repos.d/kubernetes.repo, in the pkgs.k8s.io layout or the legacy apt/yum one.
 */
export interface PackageSourceReading {
  readonly source: 'upstream' | 'mirror';
  readonly mirror?: string;
  readonly mirrorLayout: 'pkgs.k8s.io' | 'legacy';
  /** apt's [trusted=yes] or yum's gpgcheck=0: the repository is not signed. */
  readonly unsigned: boolean;
}

export const PACKAGE_SOURCE_FILES = ['/etc/apt/sources.list.d/kubernetes.list', '/etc/yum.repos.d/kubernetes.repo'] as const;

const UPSTREAM = 'https://pkgs.k8s.io';

/** undefined when the file names no repository kubestrap knows the layout of. */
export function readPackageSource(text: string): PackageSourceReading | undefined {
  const lines = text.split('\n').filter((l) => !/^\s*#/.test(l));
  const apt = lines.map((l) => /^\s*deb\s+(\[[^\]]*\]\s+)?(\S+)/.exec(l)).find(Boolean);
  const yum = lines.map((l) => /^\s*baseurl\s*=\s*(\S+)/.exec(l)).find(Boolean);
  const url = apt?.[2] ?? yum?.[1];
  if (!url) return undefined;
  const unsigned = apt ? /trusted=yes/.test(apt[1] ?? '') : lines.some((l) => /^\s*gpgcheck\s*=\s*0/.test(l));
  const modern = /^(.*)\/core:\/stable:\/v1\.\d+\/(deb|rpm)\/?$/.exec(url);
  if (modern)
    return modern[1] === UPSTREAM
      ? { source: 'upstream', mirrorLayout: 'pkgs.k8s.io', unsigned }
      : { source: 'mirror', mirror: modern[1]!, mirrorLayout: 'pkgs.k8s.io', unsigned };
  const legacy = /^(.*)\/(apt|yum\/repos\/kubernetes-el7-[^/]+)\/?$/.exec(url);
  if (legacy) return { source: 'mirror', mirror: legacy[1]!, mirrorLayout: 'legacy', unsigned };
  return undefined;
}
