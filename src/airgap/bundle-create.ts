/**
 * `bundle create`: on a connected workstation, collects what the inventory's cluster needs
 * (clusterImages, the Kubernetes packages, the Calico manifest) into one bundle. Downloads go
 * to a content-addressed cache, so a second run with nothing changed downloads no blob and no
 * package again; only manifests are asked for, to notice a tag that moved.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as tar from 'tar';
import type { Inventory } from '../inventory/schema.js';
import { inventoryCalicoManifest } from '../kube/addon-set.js';
import { stateDir } from '../util/paths.js';
import { parseVersion, versionTag } from '../util/version.js';
import { repoInputOf } from '../../templates/kube-repos.js';
import { readAptIndex, readRpmIndex, selectKubePackages } from './package-index.js';
import { blobEntry, BUNDLE_FORMAT, BUNDLE_MANIFEST, CALICO_ENTRY, debArchitecture, rpmArchitecture, bundleManifestText, type BundleEntry, type BundleImage, type BundleManifest, type BundlePackage, type PackageFamily } from './bundle.js';
import { clusterImages } from './cluster-images.js';
import { registryCredentials } from './registry-auth.js';
import { parseImageRef } from './image-ref.js';
import { fileDigest, platformName, RegistryClient, type Descriptor, type Platform } from './registry-client.js';

export interface CreateOptions {
  readonly inventory: Inventory;
  readonly output: string;
  readonly platforms: readonly Platform[];
  readonly packageFamilies: readonly PackageFamily[];
  /** Registry host → base URL to pull from instead (a mirror, or a lab registry over plain http). */
  readonly mirrors: ReadonlyMap<string, string>;
  readonly progress: (line: string) => void;
}

export interface CreateResult {
  readonly manifest: BundleManifest;
  /** Bytes that crossed the network for blobs and packages (manifests are always asked for). */
  readonly downloadedBytes: number;
  readonly bundleBytes: number;
  /** The output already held exactly this bundle: it was left as it was. */
  readonly unchanged: boolean;
}

const cacheDir = () => join(stateDir(), 'cache', 'downloads');

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
  const client = new RegistryClient({ endpoint: (registry) => options.mirrors.get(registry), credentials: (registry) => registryCredentials(registry) });
  const files = new Map<string, string>(); // bundle path → file in the cache
  let downloadedBytes = 0;

  const calicoManifest = await inventoryCalicoManifest(inv);
  const images: BundleImage[] = [];
  for (const needed of clusterImages(inv, calicoManifest)) {
    const ref = parseImageRef(needed.name);
    const resolved = await client.resolve(ref, options.platforms);
    const platforms: Record<string, { manifest: Descriptor; blobs: Descriptor[] }> = {};
    for (const [platform, manifest] of resolved.manifests) {
      const manifestFile = join(cache, 'blobs', manifest.descriptor.digest.replace(':', '-'));
      if (!existsSync(manifestFile)) {
        mkdirSync(dirname(manifestFile), { recursive: true });
        writeFileSync(manifestFile, manifest.bytes);
      }
      files.set(blobEntry(manifest.descriptor.digest), manifestFile);
      const blobs = [manifest.config, ...manifest.layers].map((b) => ({ mediaType: b.mediaType, digest: b.digest, size: b.size }));
      for (const blob of blobs) {
        const path = join(cache, 'blobs', blob.digest.replace(':', '-'));
        if (!existsSync(path)) {
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
        const path = join(cache, 'packages', `${pkg.sha256}.${family}`);
        if (!existsSync(path)) {
          options.progress(`${pkg.name} ${pkg.version} (${arch}): downloading ${pkg.url}`);
          const bytes = await download(pkg.url);
          const sha256 = createHash('sha256').update(bytes).digest('hex');
          if (sha256 !== pkg.sha256) throw new Error(`${pkg.url}: sha256 ${sha256} differs from the repository index's ${pkg.sha256}; refused`);
          mkdirSync(dirname(path), { recursive: true });
          writeFileSync(`${path}.partial`, bytes);
          renameSync(`${path}.partial`, path);
          downloadedBytes += bytes.length;
        }
        const file = family === 'deb' ? `${pkg.name}_${pkg.version.replace(/^\d+:/, '')}_${pkg.architecture}.deb` : `${pkg.name}-${pkg.version}.${pkg.architecture}.rpm`;
        const entry = `packages/${family}/${arch}/${file}`;
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
      const sha256 = path.startsWith('images/blobs/sha256/') ? path.slice('images/blobs/sha256/'.length) : (await fileDigest(source)).slice('sha256:'.length);
      entries.push({ path, sha256, size: statSync(source).size });
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
    const text = `${JSON.stringify(manifest, null, 2)}\n`;
    if (existsSync(options.output) && (await bundleManifestText(options.output).catch(() => undefined)) === text) {
      return { manifest, downloadedBytes, bundleBytes: statSync(options.output).size, unchanged: true };
    }
    // the archive's tree: bundle.json first, then links to the cached files (followed when packed)
    const tree = join(work, 'tree');
    mkdirSync(tree);
    writeFileSync(join(tree, BUNDLE_MANIFEST), text);
    for (const [path, source] of files) {
      mkdirSync(dirname(join(tree, path)), { recursive: true });
      symlinkSync(source, join(tree, path));
    }
    const partial = join(work, 'bundle.tar');
    await tar.c({ file: partial, cwd: tree, follow: true, portable: true, noDirRecurse: true, mtime: new Date(0) }, [BUNDLE_MANIFEST, ...entries.map((e) => e.path)]);
    renameSync(partial, options.output);
    return { manifest, downloadedBytes, bundleBytes: statSync(options.output).size, unchanged: false };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

