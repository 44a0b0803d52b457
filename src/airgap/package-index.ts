/**
 * The Kubernetes packages a bundle carries, chosen from the inventory's package repository the
 * way apt or dnf would install them: kubelet and kubectl at the cluster's pinned version,
 * cri-tools at its newest, and what they depend on that the same repository provides
 * (kubernetes-cni for older releases). Dependencies on the distribution's own packages are the
 * hosts' to have (an air-gapped site's local mirror or its installation media). The indexes:
 * apt's Packages (flat pkgs.k8s.io layout or the legacy suite) and yum's repodata primary.xml.
 */
import { XMLParser } from 'fast-xml-parser';
import { gunzipSync } from 'node:zlib';
import { aptLocation, KUBE_PACKAGES, rpmLocation, type RepoInput } from '../../templates/kube-repos.js';

export interface RepoPackage {
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
export function parsePackagesIndex(text: string, repoUrl: string): RepoPackage[] {
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

/** dpkg's ordering of versions, enough for the repositories' `1.28.2-1.1`, `1.23.17-00`, `1:2.3` (rpm's agrees on them). */
export function comparePackageVersions(a: string, b: string): number {
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

/** The first of `urls` that downloads (an index may be published compressed only). */
async function firstOf(urls: readonly string[], download: (url: string) => Promise<Buffer>): Promise<{ url: string; bytes: Buffer }> {
  let first: unknown;
  for (const url of urls) {
    try {
      return { url, bytes: await download(url) };
    } catch (err) {
      first ??= err;
    }
  }
  throw first;
}

/** The apt index of the repository for one (Debian) architecture. */
export async function readAptIndex(
  repo: Omit<RepoInput, 'unsigned'>,
  architecture: string,
  download: (url: string) => Promise<Buffer>,
): Promise<RepoPackage[]> {
  const { url, suite } = aptLocation(repo);
  const indexBase = suite === '/' ? url : `${url}dists/${suite.split(' ')[0]}/${suite.split(' ')[1]}/binary-${architecture}/`;
  const { url: got, bytes } = await firstOf([`${indexBase}Packages`, `${indexBase}Packages.gz`], download);
  const text = (got.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
  return parsePackagesIndex(text, url).filter((p) => p.architecture === architecture || p.architecture === 'all');
}

type XmlNode = Record<string, unknown>;
const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The yum index (repomd.xml, then its primary.xml) of the repository for one (rpm) architecture. */
export async function readRpmIndex(
  repo: Omit<RepoInput, 'unsigned'>,
  architecture: string,
  download: (url: string) => Promise<Buffer>,
): Promise<RepoPackage[]> {
  const url = rpmLocation(repo).url.replace('$basearch', architecture);
  const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', removeNSPrefix: true });
  const repomd = xml.parse((await download(`${url}repodata/repomd.xml`)).toString('utf8')) as { repomd?: { data?: XmlNode | XmlNode[] } };
  const primary = asList(repomd.repomd?.data).find((d) => d['@type'] === 'primary');
  const href = (primary?.location as XmlNode | undefined)?.['@href'] as string | undefined;
  if (!href) throw new Error(`${url}repodata/repomd.xml names no primary index`);
  if (!/\.xml(\.gz)?$/.test(href))
    throw new Error(`${url}${href}: kubestrap reads primary.xml plain or gzip-compressed, not ${href.split('.').pop()}`);
  const raw = await download(new URL(href, url).href);
  const metadata = xml.parse((href.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8')) as {
    metadata?: { package?: XmlNode | XmlNode[] };
  };
  return asList(metadata.metadata?.package)
    .map((p) => {
      const version = p.version as XmlNode;
      const checksum = p.checksum as XmlNode;
      const requires = asList(
        ((p.format as XmlNode | undefined)?.requires as XmlNode | undefined)?.entry as XmlNode | XmlNode[] | undefined,
      );
      return {
        name: String(p.name),
        version: `${String(version['@ver'])}-${String(version['@rel'])}`,
        architecture: String(p.arch),
        url: new URL(String((p.location as XmlNode)['@href']), url).href,
        sha256: checksum['@type'] === 'sha256' ? String(checksum['#text']) : '',
        size: Number((p.size as XmlNode | undefined)?.['@package'] ?? 0),
        depends: requires.map((r) => String(r['@name'])),
      };
    })
    .filter((p) => p.sha256 && (p.architecture === architecture || p.architecture === 'noarch'));
}

/** kubelet and kubectl at `version` (1.20.2), cri-tools at its newest, and their dependencies the repository has. */
export function selectKubePackages(index: readonly RepoPackage[], version: string, architecture: string): RepoPackage[] {
  const newest = (name: string, accept: (p: RepoPackage) => boolean = () => true) =>
    index.filter((p) => p.name === name && accept(p)).sort((a, b) => comparePackageVersions(b.version, a.version))[0];
  const chosen = new Map<string, RepoPackage>();
  const missing: string[] = [];
  const add = (name: string, accept?: (p: RepoPackage) => boolean) => {
    if (chosen.has(name)) return;
    const found = newest(name, accept);
    if (!found) return missing.push(name);
    chosen.set(name, found);
    for (const dep of found.depends) if (index.some((p) => p.name === dep)) add(dep);
  };
  for (const name of KUBE_PACKAGES)
    add(name, name === 'cri-tools' ? undefined : (p) => p.version.replace(/^\d+:/, '').startsWith(`${version}-`));
  if (missing.length)
    throw new Error(
      `the package repository has no ${missing.map((n) => (n === 'cri-tools' ? n : `${n} ${version}`)).join(', ')} for ${architecture}`,
    );
  return [...chosen.values()];
}
