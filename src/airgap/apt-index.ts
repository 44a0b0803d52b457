/**
 * The Kubernetes packages a bundle carries for Debian-family hosts, chosen from the inventory's
 * apt repository the way apt would install them: kubelet and kubectl at the cluster's pinned
 * version, cri-tools at its newest, and what they depend on that the same repository provides
 * (kubernetes-cni for older releases). Dependencies on the distribution's own packages are
 * the hosts' to have (an air-gapped site's local mirror or its installation media).
 */
import { gunzipSync } from 'node:zlib';
import { aptLocation, KUBE_PACKAGES, type RepoInput } from '../../templates/kube-repos.js';

export interface DebPackage {
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  /** Where it is downloaded from. */
  readonly url: string;
  readonly sha256: string;
  readonly size: number;
  readonly depends: readonly string[];
}

/** Index stanzas → packages; `Filename` is relative to the repository's URL. */
export function parsePackagesIndex(text: string, repoUrl: string): DebPackage[] {
  return text
    .split(/\n\s*\n/)
    .map((stanza) => {
      const fields = new Map<string, string>();
      let last = '';
      for (const line of stanza.split('\n')) {
        if (/^\s/.test(line) && last) fields.set(last, `${fields.get(last)}\n${line.trim()}`);
        else {
          const colon = line.indexOf(':');
          if (colon < 0) continue;
          last = line.slice(0, colon);
          fields.set(last, line.slice(colon + 1).trim());
        }
      }
      return fields;
    })
    .filter((f) => f.has('Package') && f.has('Filename') && f.has('SHA256'))
    .map((f) => ({
      name: f.get('Package')!,
      version: f.get('Version') ?? '',
      architecture: f.get('Architecture') ?? 'all',
      url: new URL(f.get('Filename')!.replace(/^\.\//, ''), repoUrl).href,
      sha256: f.get('SHA256')!,
      size: Number(f.get('Size') ?? 0),
      depends: (f.get('Depends') ?? '')
        .split(',')
        .map((d) => d.trim().split(/[\s(|]/)[0]!)
        .filter(Boolean),
    }));
}

/** dpkg's ordering of versions, enough for the repositories' `1.28.2-1.1`, `1.23.17-00`, `1:2.3`. */
export function compareDebVersions(a: string, b: string): number {
  const split = (v: string) => {
    const epoch = /^(\d+):/.exec(v);
    return { epoch: epoch ? Number(epoch[1]) : 0, rest: epoch ? v.slice(epoch[0].length) : v };
  };
  const [x, y] = [split(a), split(b)];
  if (x.epoch !== y.epoch) return x.epoch - y.epoch;
  const parts = (v: string) => v.match(/\d+|[^\d]+/g) ?? [];
  const [p, q] = [parts(x.rest), parts(y.rest)];
  // '~' sorts before everything, even the end of the version (1.0~rc1 < 1.0)
  const rank = (token: string) => (token.startsWith('~') ? -2 : token === '' ? -1 : 0);
  for (let i = 0; i < Math.max(p.length, q.length); i++) {
    const [s, t] = [p[i] ?? '', q[i] ?? ''];
    if (s === t) continue;
    if (/^\d/.test(s) && /^\d/.test(t)) return Number(s) - Number(t);
    return rank(s) - rank(t) || (s < t ? -1 : 1);
  }
  return 0;
}

/** The index of the repository for one architecture (flat pkgs.k8s.io layout or the legacy suite). */
export async function readAptIndex(repo: Omit<RepoInput, 'unsigned'>, architecture: string, download: (url: string) => Promise<Buffer>): Promise<DebPackage[]> {
  const { url, suite } = aptLocation(repo);
  const indexBase = suite === '/' ? url : `${url}dists/${suite.split(' ')[0]}/${suite.split(' ')[1]}/binary-${architecture}/`;
  let text: string;
  try {
    text = (await download(`${indexBase}Packages`)).toString('utf8');
  } catch (plain) {
    try {
      text = gunzipSync(await download(`${indexBase}Packages.gz`)).toString('utf8');
    } catch {
      throw plain;
    }
  }
  return parsePackagesIndex(text, url).filter((p) => p.architecture === architecture || p.architecture === 'all');
}

/** kubelet and kubectl at `version` (1.20.2), cri-tools at its newest, and their dependencies the repository has. */
export function selectKubePackages(index: readonly DebPackage[], version: string, architecture: string): DebPackage[] {
  const newest = (name: string, accept: (p: DebPackage) => boolean = () => true) =>
    index.filter((p) => p.name === name && accept(p)).sort((a, b) => compareDebVersions(b.version, a.version))[0];
  const chosen = new Map<string, DebPackage>();
  const missing: string[] = [];
  const add = (name: string, accept?: (p: DebPackage) => boolean) => {
    if (chosen.has(name)) return;
    const found = newest(name, accept);
    if (!found) return missing.push(name);
    chosen.set(name, found);
    for (const dep of found.depends) if (index.some((p) => p.name === dep)) add(dep);
  };
  for (const name of KUBE_PACKAGES) add(name, name === 'cri-tools' ? undefined : (p) => p.version.replace(/^\d+:/, '').startsWith(`${version}-`));
  if (missing.length) throw new Error(`the package repository has no ${missing.map((n) => (n === 'cri-tools' ? n : `${n} ${version}`)).join(', ')} for ${architecture}`);
  return [...chosen.values()];
}
