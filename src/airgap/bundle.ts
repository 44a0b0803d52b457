/**
 * The air-gap bundle: one tar archive with everything a cluster of one inventory needs from
 * outside. Its first entry, bundle.json, lists every other entry with its sha256 and size, the
 * images (by the names the manifests use, per platform: manifest, config and layers as
 * content-addressed blobs in an OCI layout), the Kubernetes packages per package family and
 * architecture, and the Calico manifest when Calico is the CNI:
 *
 *   bundle.json
 *   images/blobs/sha256/<hex>          manifests, configs and layers
 *   packages/<family>/<arch>/<file>    kubelet, kubectl, cri-tools (+ their repository dependencies), deb or rpm
 *   manifests/calico.yaml
 *
 * Opening a bundle extracts it once into kubestrap's cache, checking every entry against
 * bundle.json on the way (an unlisted entry, a missing one or a changed byte is refused).
 */
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import type { Inventory } from '../inventory/schema.js';
import { inside, stateDir } from '../util/paths.js';
import { parseVersion, versionTag } from '../util/version.js';
import { clusterImages, type ImageUser } from './cluster-images.js';
import type { Descriptor } from './registry-client.js';

export const BUNDLE_FORMAT = 'kubestrap.dev/bundle/v1';
export const BUNDLE_MANIFEST = 'bundle.json';
export const CALICO_ENTRY = 'manifests/calico.yaml';
export type PackageFamily = 'deb' | 'rpm';

export interface BundleImage {
  /** As the manifests name it (registry.k8s.io/kube-apiserver:v1.33.1). */
  readonly name: string;
  readonly roles: readonly ImageUser[];
  /** What the name resolved to in the registry (an index or a manifest). */
  readonly digest: string;
  /** Per platform (linux/amd64): the image manifest, and the config and layers it names. */
  readonly platforms: Readonly<Record<string, { readonly manifest: Descriptor; readonly blobs: readonly Descriptor[] }>>;
}

export interface BundlePackage {
  readonly family: PackageFamily;
  readonly architecture: string;
  readonly name: string;
  readonly version: string;
  readonly path: string;
}

export interface BundleEntry {
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
}

export interface BundleManifest {
  readonly format: typeof BUNDLE_FORMAT;
  readonly kubernetesVersion: string;
  readonly platforms: readonly string[];
  readonly packageFamilies: readonly PackageFamily[];
  readonly images: readonly BundleImage[];
  readonly packages: readonly BundlePackage[];
  readonly calicoManifest?: string;
  readonly entries: readonly BundleEntry[];
}

export const blobEntry = (digest: string) => `images/blobs/sha256/${digest.slice('sha256:'.length)}`;

/** Debian architecture names (what dpkg and the packages say) for a platform's Go architecture. */
export function debArchitecture(goArch: string): string {
  return ({ amd64: 'amd64', arm64: 'arm64', arm: 'armhf', ppc64le: 'ppc64el', s390x: 's390x' } as Record<string, string>)[goArch] ?? goArch;
}

/** rpm architecture names (what `uname -m` and the packages say) for a platform's Go architecture. */
export function rpmArchitecture(goArch: string): string {
  return ({ amd64: 'x86_64', arm64: 'aarch64', ppc64le: 'ppc64le', s390x: 's390x' } as Record<string, string>)[goArch] ?? goArch;
}

/** `uname -m` → the platform's architecture (linux/<goArch>). */
export function goArchitecture(machine: string): string {
  return ({ x86_64: 'amd64', aarch64: 'arm64', armv7l: 'arm', ppc64le: 'ppc64le', s390x: 's390x' } as Record<string, string>)[machine] ?? machine;
}

export class BundleError extends Error {}

export interface OpenBundle {
  readonly file: string;
  readonly manifest: BundleManifest;
  /** Where the verified entries are (kubestrap's cache). */
  readonly dir: string;
  readonly calicoManifest: string | undefined;
  /** The package files for a family and architecture, as paths in `dir`. */
  packageFiles(family: PackageFamily, architecture: string): string[];
}

const cacheRoot = () => join(stateDir(), 'cache', 'bundles');

/** The text of bundle.json, the archive's first entry. */
export async function bundleManifestText(file: string): Promise<string> {
  let text: string | undefined;
  let first = true;
  await tar
    .t({
      file,
      onReadEntry: (entry) => {
        if (first && entry.path === BUNDLE_MANIFEST) {
          const pieces: Buffer[] = [];
          entry.on('data', (d: Buffer) => pieces.push(d));
          entry.on('end', () => (text = Buffer.concat(pieces).toString('utf8')));
        } else entry.resume();
        first = false;
      },
    })
    .catch((err: Error) => {
      throw new BundleError(`${file}: not a readable bundle (${err.message})`);
    });
  if (text === undefined) throw new BundleError(`${file}: not a kubestrap bundle (its first entry is not ${BUNDLE_MANIFEST})`);
  return text;
}

async function readBundleManifest(file: string): Promise<BundleManifest> {
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(await bundleManifestText(file)) as BundleManifest;
  } catch (err) {
    if (err instanceof BundleError) throw err;
    throw new BundleError(`${file}: ${BUNDLE_MANIFEST} is not JSON (${(err as Error).message})`);
  }
  if (manifest.format !== BUNDLE_FORMAT) throw new BundleError(`${file}: bundle format ${JSON.stringify(manifest.format)} is not ${BUNDLE_FORMAT}`);
  return manifest;
}

/**
 * Streams through the whole archive and checks every entry against bundle.json; with `into`,
 * writes the checked entries there. Every problem is collected, so one run names them all.
 */
async function checkEntries(file: string, manifest: BundleManifest, into?: string): Promise<{ problems: string[]; checked: number }> {
  const listed = new Map(manifest.entries.map((e) => [e.path, e]));
  const seen = new Set<string>();
  const problems: string[] = [];
  const writes: Promise<void>[] = [];
  await tar.t({
    file,
    onReadEntry: (entry) => {
      const path = entry.path;
      if (path === BUNDLE_MANIFEST || entry.type === 'Directory') return entry.resume();
      const expected = listed.get(path);
      if (!expected) {
        problems.push(`${path}: not listed in ${BUNDLE_MANIFEST}`);
        return entry.resume();
      }
      seen.add(path);
      const hash = createHash('sha256');
      let size = 0;
      const target = into ? inside(into, `${path}.partial`) : undefined;
      if (target) mkdirSync(dirname(target), { recursive: true });
      // one consumer of the entry: the hash sees exactly what is written
      const hashing = new Transform({
        transform(piece: Buffer, _encoding, callback) {
          hash.update(piece);
          size += piece.length;
          callback(null, piece);
        },
      });
      const sink = target ? createWriteStream(target) : new Writable({ write: (_piece, _encoding, callback) => callback() });
      const done = pipeline(entry as unknown as NodeJS.ReadableStream, hashing, sink).then(() => {
        const sha256 = hash.digest('hex');
        if (sha256 !== expected.sha256 || size !== expected.size) problems.push(`${path}: content differs from ${BUNDLE_MANIFEST} (sha256 ${sha256}, ${size} bytes; listed ${expected.sha256}, ${expected.size} bytes)`);
        else if (target) renameSync(target, target.slice(0, -'.partial'.length));
      });
      writes.push(done);
    },
  });
  await Promise.all(writes);
  for (const path of listed.keys()) if (!seen.has(path)) problems.push(`${path}: listed in ${BUNDLE_MANIFEST} but not in the archive`);
  return { problems, checked: seen.size };
}

/** `bundle verify`: every entry's digest; the problems found (none: the bundle is whole). */
export async function verifyBundle(file: string): Promise<{ manifest: BundleManifest; problems: string[]; checked: number }> {
  const manifest = await readBundleManifest(file);
  return { manifest, ...(await checkEntries(file, manifest)) };
}

/** The bundle, verified and extracted into the cache (once per bundle file: a changed file is checked again). */
export async function openBundle(file: string): Promise<OpenBundle> {
  if (!existsSync(file)) throw new BundleError(`${file}: no such bundle (cluster.airgap.bundle or --bundle; paths are relative to the inventory file)`);
  const manifest = await readBundleManifest(file);
  const id = createHash('sha256').update(JSON.stringify(manifest)).digest('hex').slice(0, 24);
  const dir = join(cacheRoot(), id);
  const stat = statSync(file);
  const stamp = `${stat.size}:${stat.mtimeMs}\n`;
  const marker = join(dir, '.verified');
  if (!existsSync(marker) || readFileSync(marker, 'utf8') !== stamp) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const { problems } = await checkEntries(file, manifest, dir);
    if (problems.length) {
      rmSync(dir, { recursive: true, force: true });
      throw new BundleError(`${file} is damaged: ${problems.join('; ')}`);
    }
    writeFileSync(marker, stamp);
  }
  return {
    file,
    manifest,
    dir,
    calicoManifest: manifest.calicoManifest ? readFileSync(join(dir, manifest.calicoManifest), 'utf8') : undefined,
    packageFiles: (family, architecture) => manifest.packages.filter((p) => p.family === family && p.architecture === architecture).map((p) => join(dir, p.path)),
  };
}

/**
 * What the inventory needs that the bundle lacks, before any host is touched: another release,
 * a missing image (by the name the manifests use), the Calico manifest.
 */
export function bundleProblems(inv: Inventory, bundle: Pick<OpenBundle, 'file' | 'manifest' | 'calicoManifest'>): string[] {
  const { manifest } = bundle;
  const wanted = versionTag(parseVersion(inv.cluster.kubernetesVersion)!);
  if (manifest.kubernetesVersion !== wanted) return [`the bundle is for Kubernetes ${manifest.kubernetesVersion}, the inventory's cluster.kubernetesVersion is ${wanted}: create a bundle for ${wanted}`];
  const problems: string[] = [];
  if (inv.cluster.cni.plugin === 'calico' && bundle.calicoManifest === undefined) problems.push('the bundle has no Calico manifest (cluster.cni.plugin is calico)');
  const has = new Map(manifest.images.map((i) => [i.name, i]));
  for (const image of clusterImages(inv, bundle.calicoManifest)) {
    const found = has.get(image.name);
    if (!found) problems.push(`the bundle lacks the image ${image.name} (run by ${image.roles.map((r) => (r === 'site-registry' ? 'the site registry' : `${r} nodes`)).join(' and ')})`);
    else {
      const lacking = manifest.platforms.filter((p) => !found.platforms[p]);
      if (lacking.length) problems.push(`the bundle's ${image.name} lacks ${lacking.join(', ')}`);
    }
  }
  return problems;
}

/** What one host needs of the bundle: its platform and its package family. */
export function hostProblems(bundle: Pick<OpenBundle, 'manifest'>, machine: string, packageManager: string, kubePackagesWanted: boolean): string[] {
  const platform = `linux/${goArchitecture(machine)}`;
  const problems: string[] = [];
  if (!bundle.manifest.platforms.includes(platform)) problems.push(`the bundle has no ${platform} images (it has ${bundle.manifest.platforms.join(', ')}): create it with --platform ${platform}`);
  const family: PackageFamily | undefined = packageManager === 'apt' ? 'deb' : packageManager === 'dnf' || packageManager === 'yum' ? 'rpm' : undefined;
  const arch = family === 'deb' ? debArchitecture(goArchitecture(machine)) : machine;
  if (kubePackagesWanted && family && !bundle.manifest.packages.some((p) => p.family === family && p.architecture === arch)) {
    problems.push(`the bundle has no ${family} packages for ${arch} (it has ${[...new Set(bundle.manifest.packages.map((p) => `${p.family}/${p.architecture}`))].join(', ') || 'none'})`);
  }
  return problems;
}
