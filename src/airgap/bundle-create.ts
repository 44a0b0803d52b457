/**
 * `bundle create`: on a connected workstation, collects what the inventory's cluster needs
 * (clusterImages, the Kubernetes packages, the Calico manifest) into one bundle, signed when a
 * key is given. Downloads go to a content-addressed cache, so a second run with nothing changed
 * downloads no blob and no package again; only manifests are asked for, to notice a tag that
 * moved. Cache paths come only from validated digests, a cached file counts only once its
 * content hashes to its name, and every entry's sha256 is computed from the file packed.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as tar from 'tar';
import type { Inventory } from '../inventory/schema.js';
import { printable } from '../log/redact.js';
import { inventoryCalicoManifest } from '../kube/addon-set.js';
import { stateDir } from '../util/paths.js';
import { parseVersion, versionTag } from '../util/version.js';
import { repoInputOf } from '../../templates/kube-repos.js';
import { readAptIndex, readRpmIndex, selectKubePackages } from './package-index.js';
import { debArchitecture, rpmArchitecture } from './architectures.js';
import { blobEntry, bundleHead } from './bundle.js';
import { PACKAGE_ENTRY } from './bundle-manifest.js';
import { signatureEntry } from './bundle-signature.js';
import { clusterImages } from './cluster-images.js';
import { registryCredentials } from './registry-auth.js';
import { parseImageRef } from '../util/image-ref.js';
import { fileDigest, platformName, RegistryClient } from './registry-client.js';
import {
  BUNDLE_FORMAT,
  BUNDLE_MANIFEST,
  BUNDLE_SIGNATURE,
  CALICO_ENTRY,
  type BundleEntry,
  type BundleImage,
  type BundleManifest,
  type BundlePackage,
  type Descriptor,
  type PackageFamily,
  type Platform,
} from '../kit/bundle.js';

export interface CreateOptions {
  readonly inventory: Inventory;
  readonly output: string;
  readonly platforms: readonly Platform[];
  readonly packageFamilies: readonly PackageFamily[];
  /** Registry host → base URL to pull from instead (a mirror, or a lab registry over plain http). */
  readonly mirrors: ReadonlyMap<string, string>;
  /** Ed25519 key to sign bundle.json with (bundle.sig). */
  readonly signingKey?: KeyObject;
  readonly progress: (line: string) => void;
}

export interface CreateResult {
  readonly manifest: BundleManifest;
  /** Bytes that crossed the network for blobs and packages (manifests are always asked for). */
  readonly downloadedBytes: number;
  readonly bundleBytes: number;
  /** sha256 of bundle.json: what `cluster.airgap.bundleSha256` pins. */
  readonly manifestSha256: string;
  /** The output already held exactly this bundle: it was left as it was. */
  readonly unchanged: boolean;
}

const cacheDir = () => join(stateDir(), 'cache', 'downloads');

/** A file of the cache counts as present only when its content hashes to the digest it is kept under. */
async function cachedAs(path: string, sha256: string): Promise<boolean> {
  if (!existsSync(path)) return false;
  if ((await fileDigest(path)) === `sha256:${sha256}`) return true;
  rmSync(path, { force: true });
  return false;
}

async function download(url: string): Promise<Buffer> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10 * 60_000) });
  if (!res.ok) throw new Error(`downloading ${url}: HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

export async function createBundle(options: CreateOptions): Promise<CreateResult> {
  const inv = options.inventory;
  const c = inv.cluster;
  const version = parseVersion(c.kubernetesVersion)!;
  const cache = cacheDir();
  const client = new RegistryClient({
    endpoint: (registry) => options.mirrors.get(registry),
    credentials: (host) => registryCredentials(host),
  });
  const files = new Map<string, string>(); // bundle path → file in the cache
  // the registry client validated every digest (sha256:<64 hex>): a cache path stays in the cache
  const blobPath = (digest: string) => join(cache, 'blobs', digest.replace(':', '-'));
  let downloadedBytes = 0;

  const calicoManifest = await inventoryCalicoManifest(inv);
  const images: BundleImage[] = [];
  for (const needed of clusterImages(inv, calicoManifest)) {
    const ref = parseImageRef(needed.name);
    const resolved = await client.resolve(ref, options.platforms);
    const platforms: Record<string, { manifest: Descriptor; blobs: Descriptor[] }> = {};
    for (const [platform, manifest] of resolved.manifests) {
      const manifestFile = blobPath(manifest.descriptor.digest);
      mkdirSync(dirname(manifestFile), { recursive: true });
      writeFileSync(manifestFile, manifest.bytes);
      files.set(blobEntry(manifest.descriptor.digest), manifestFile);
      const blobs = [manifest.config, ...manifest.layers].map((b) => ({ mediaType: b.mediaType, digest: b.digest, size: b.size }));
      for (const blob of blobs) {
        const path = blobPath(blob.digest);
        if (!(await cachedAs(path, blob.digest.slice('sha256:'.length)))) {
          options.progress(`${needed.name} (${platform}): downloading ${blob.digest.slice(0, 19)} (${blob.size} bytes)`);
          downloadedBytes += await client.downloadBlob(ref, blob, path);
        }
        files.set(blobEntry(blob.digest), path);
      }
      platforms[platform] = { manifest: manifest.descriptor, blobs };
    }
    images.push({ name: needed.name, roles: needed.roles, digest: resolved.digest, platforms });
    options.progress(`${needed.name}: ${[...resolved.manifests.keys()].join(', ')}`);
  }

  const packages: BundlePackage[] = [];
  for (const family of options.packageFamilies) {
    const repo = repoInputOf(c.packages, version.minor);
    const archOf = family === 'deb' ? debArchitecture : rpmArchitecture;
    for (const arch of new Set(options.platforms.map((p) => archOf(p.architecture)))) {
      const index = family === 'deb' ? await readAptIndex(repo, arch, download) : await readRpmIndex(repo, arch, download);
      for (const pkg of selectKubePackages(index, `${version.major}.${version.minor}.${version.patch}`, arch)) {
        // a repository's index is outside data: its names and hashes become paths only once checked
        const file =
          family === 'deb'
            ? `${pkg.name}_${pkg.version.replace(/^\d+:/, '')}_${pkg.architecture}.deb`
            : `${pkg.name}-${pkg.version}.${pkg.architecture}.rpm`;
        const entry = `packages/${family}/${arch}/${file}`;
        if (!/^[0-9a-f]{64}$/.test(pkg.sha256) || !PACKAGE_ENTRY.test(entry))
          throw new Error(
            printable(
              `${pkg.url.slice(0, 200)}: the repository index names it ${JSON.stringify(entry.slice(0, 200))} with sha256 ${JSON.stringify(pkg.sha256.slice(0, 80))}; refused`,
            ),
          );
        const path = join(cache, 'packages', `${pkg.sha256}.${family}`);
        if (!(await cachedAs(path, pkg.sha256))) {
          options.progress(`${pkg.name} ${pkg.version} (${arch}): downloading ${pkg.url}`);
          const bytes = await download(pkg.url);
          const sha256 = createHash('sha256').update(bytes).digest('hex');
          if (sha256 !== pkg.sha256)
            throw new Error(`${pkg.url}: sha256 ${sha256} differs from the repository index's ${pkg.sha256}; refused`);
          mkdirSync(dirname(path), { recursive: true });
          writeFileSync(`${path}.partial`, bytes);
          renameSync(`${path}.partial`, path);
          downloadedBytes += bytes.length;
        }
        files.set(entry, path);
        packages.push({ family, architecture: arch, name: pkg.name, version: pkg.version, path: entry });
      }
    }
  }

  const work = mkdtempSync(join(dirname(options.output), '.kubestrap-bundle-'));
  try {
    if (calicoManifest !== undefined) {
      writeFileSync(join(work, 'calico.yaml'), calicoManifest);
      files.set(CALICO_ENTRY, join(work, 'calico.yaml'));
    }
    const entries: BundleEntry[] = [];
    for (const [path, source] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
      entries.push({ path, sha256: (await fileDigest(source)).slice('sha256:'.length), size: statSync(source).size });
    }
    const manifest: BundleManifest = {
      format: BUNDLE_FORMAT,
      kubernetesVersion: versionTag(version),
      platforms: options.platforms.map(platformName),
      packageFamilies: [...options.packageFamilies],
      images,
      packages,
      ...(calicoManifest !== undefined ? { calicoManifest: CALICO_ENTRY } : {}),
      entries,
    };
    const text = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
    const manifestSha256 = createHash('sha256').update(text).digest('hex');
    // Ed25519 signatures are deterministic: the same key over the same bundle.json gives the same bundle.sig
    const signature = options.signingKey ? signatureEntry(text, options.signingKey) : undefined;
    const existing = existsSync(options.output) ? await bundleHead(options.output).catch(() => undefined) : undefined;
    if (existing && existing.manifestBytes.equals(text) && existing.signatureText === signature) {
      return { manifest, downloadedBytes, bundleBytes: statSync(options.output).size, manifestSha256, unchanged: true };
    }
    // the archive's tree: bundle.json first, its signature second, then links to the cached files (followed when packed)
    const tree = join(work, 'tree');
    mkdirSync(tree);
    writeFileSync(join(tree, BUNDLE_MANIFEST), text);
    if (signature) writeFileSync(join(tree, BUNDLE_SIGNATURE), signature);
    for (const [path, source] of files) {
      mkdirSync(dirname(join(tree, path)), { recursive: true });
      symlinkSync(source, join(tree, path));
    }
    const partial = join(work, 'bundle.tar');
    const head = signature ? [BUNDLE_MANIFEST, BUNDLE_SIGNATURE] : [BUNDLE_MANIFEST];
    await tar.c({ file: partial, cwd: tree, follow: true, portable: true, noDirRecurse: true, mtime: new Date(0) }, [
      ...head,
      ...entries.map((e) => e.path),
    ]);
    renameSync(partial, options.output);
    return { manifest, downloadedBytes, bundleBytes: statSync(options.output).size, manifestSha256, unchanged: false };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
