/**
 * The air-gap bundle: one plain tar archive with everything a cluster of one inventory needs
 * from outside. Its first entry, bundle.json, lists every other entry with its sha256 and size,
 * the images (by the names the manifests use, per platform: manifest, config and layers as
 * content-addressed blobs in an OCI layout), the Kubernetes packages per package family and
 * architecture, and the Calico manifest when Calico is the CNI; its second, bundle.sig, is the
 * Ed25519 signature of bundle.json when the bundle was signed:
 *
 *   bundle.json
 *   bundle.sig                         (signed bundles)
 *   images/blobs/sha256/<hex>          manifests, configs and layers
 *   packages/<family>/<arch>/<file>    kubelet, kubectl, cri-tools (+ their repository dependencies), deb or rpm
 *   manifests/calico.yaml
 *
 * A bundle comes through other hands: bundle.json is validated (bundle-manifest.ts), its trust
 * decided (a trusted key's signature or the inventory's pin), and opening it extracts it once
 * into kubestrap's cache, checking every entry against bundle.json on the way (an unlisted,
 * missing, oversized or changed entry is refused, and nothing unlisted is ever written).
 */
import { createHash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  closeSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import type { Inventory } from '../inventory/schema.js';
import { inside, stateDir } from '../util/paths.js';
import { parseVersion, versionTag } from '../util/version.js';
import { debArchitecture, goArchitecture } from './architectures.js';
import { BLOB_ENTRY, DIGEST, MAX_BUNDLE_MANIFEST_BYTES, parseBundleManifest } from './bundle-manifest.js';
import { checkSignature, type TrustedKey } from './bundle-signature.js';
import { clusterImages } from './cluster-images.js';
import {
  BUNDLE_MANIFEST,
  BUNDLE_SIGNATURE,
  type BundleManifest,
  type BundleTrust,
  type OpenBundle,
  type PackageFamily,
} from '../kit/bundle.js';

export const blobEntry = (digest: string) => `images/blobs/sha256/${digest.slice('sha256:'.length)}`;

export class BundleError extends Error {}

/** What a site trusts: the keys whose signature it accepts, and/or the sha256 of one bundle.json. */
export interface TrustPolicy {
  readonly keys: readonly TrustedKey[];
  readonly sha256?: string;
}

const cacheRoot = () => join(stateDir(), 'cache', 'bundles');
const MAX_SIGNATURE_BYTES = 64 << 10;

/** The archive's first 512 bytes must be a plain ustar header: a compressed bundle could expand past every size bundle.json lists. */
function requirePlainTar(file: string): void {
  const header = Buffer.alloc(512);
  const fd = openSync(file, 'r');
  let read: number;
  try {
    read = readSync(fd, header, 0, 512, 0);
  } finally {
    closeSync(fd);
  }
  if (read < 512 || header.toString('latin1', 257, 262) !== 'ustar') {
    const compressed =
      header[0] === 0x1f && header[1] === 0x8b ? ' (it is gzip-compressed: bundles are plain tar, as bundle create writes them)' : '';
    throw new BundleError(`${file}: not a kubestrap bundle: not a plain tar archive${compressed}`);
  }
}

/** bundle.json's bytes and, for a signed bundle, bundle.sig's text: the first two entries, read without going through the rest. */
async function readHead(file: string): Promise<{ manifestBytes: Buffer; signatureText: string | undefined }> {
  if (!existsSync(file))
    throw new BundleError(`${file}: no such bundle (cluster.airgap.bundle or --bundle; paths are relative to the inventory file)`);
  requirePlainTar(file);
  const found: { name: string; bytes: Buffer }[] = [];
  let problem: string | undefined;
  const stream = createReadStream(file);
  await new Promise<void>((resolve, reject) => {
    const parser = new tar.Parser({
      onReadEntry: (entry) => {
        const index = found.length;
        const limit = index === 0 ? MAX_BUNDLE_MANIFEST_BYTES : MAX_SIGNATURE_BYTES;
        if (index > 1 || problem) {
          entry.resume();
          return;
        }
        // an unsigned bundle: the second entry is the first of the content, read later with its size checked
        if (index === 1 && entry.path !== BUNDLE_SIGNATURE) {
          entry.resume();
          stream.destroy();
          resolve();
          return;
        }
        if (entry.size > limit) {
          problem = `${entry.path} is ${entry.size} bytes; kubestrap reads at most ${limit}`;
          stream.destroy();
          resolve();
          return;
        }
        const pieces: Buffer[] = [];
        entry.on('data', (d: Buffer) => pieces.push(d));
        entry.on('end', () => {
          found.push({ name: entry.path, bytes: Buffer.concat(pieces) });
          if (found.length === 2) {
            stream.destroy();
            resolve();
          }
        });
      },
    });
    parser.on('error', (err: Error) => {
      reject(new BundleError(`${file}: not a readable bundle (${err.message})`));
    });
    parser.on('close', () => {
      resolve();
    });
    stream.on('error', (err) => {
      reject(new BundleError(`${file}: not a readable bundle (${err.message})`));
    });
    stream.pipe(parser);
  });
  if (problem) throw new BundleError(`${file}: not a kubestrap bundle: ${problem}`);
  if (found[0]?.name !== BUNDLE_MANIFEST)
    throw new BundleError(`${file}: not a kubestrap bundle (its first entry is not ${BUNDLE_MANIFEST})`);
  return {
    manifestBytes: found[0].bytes,
    signatureText: found[1]?.name === BUNDLE_SIGNATURE ? found[1].bytes.toString('utf8') : undefined,
  };
}

export interface BundleHead {
  readonly file: string;
  readonly manifest: BundleManifest;
  readonly manifestBytes: Buffer;
  readonly manifestSha256: string;
  readonly signatureText: string | undefined;
}

/** bundle.json, validated, with the signature beside it. */
export async function bundleHead(file: string): Promise<BundleHead> {
  const { manifestBytes, signatureText } = await readHead(file);
  let manifest: BundleManifest;
  try {
    manifest = parseBundleManifest(manifestBytes.toString('utf8'), file);
  } catch (err) {
    throw new BundleError((err as Error).message);
  }
  return { file, manifest, manifestBytes, manifestSha256: createHash('sha256').update(manifestBytes).digest('hex'), signatureText };
}

/**
 * Who vouches for the bundle under `policy`, or a BundleError naming what failed: a bundle.json
 * other than the pinned one, an unsigned bundle, one signed by a key not trusted, or a
 * bundle.json changed after its signature. No key and no pin: nobody (the caller warns).
 */
export function bundleTrust(head: BundleHead, policy: TrustPolicy, names: { keys: string; sha256: string }): BundleTrust {
  if (policy.sha256 !== undefined && policy.sha256 !== head.manifestSha256) {
    throw new BundleError(
      `${head.file}: its bundle.json has sha256 ${head.manifestSha256}, but ${names.sha256} pins ${policy.sha256}: refused (another or an altered bundle)`,
    );
  }
  if (policy.keys.length) {
    const signed = checkSignature(head.file, head.manifestBytes, head.signatureText, policy.keys);
    if ('refused' in signed) throw new BundleError(`${signed.refused}; refused (${names.keys})`);
    return { kind: 'signature', keyId: signed.keyId };
  }
  return policy.sha256 !== undefined ? { kind: 'pinned', sha256: head.manifestSha256 } : { kind: 'none' };
}

/**
 * Streams through the whole archive and checks every entry against bundle.json; with `into`,
 * writes the checked entries there, never more bytes than listed. Every problem is collected,
 * so one run names them all.
 */
async function checkEntries(file: string, manifest: BundleManifest, into?: string): Promise<{ problems: string[]; checked: number }> {
  const listed = new Map(manifest.entries.map((e) => [e.path, e]));
  const seen = new Set<string>();
  const problems: string[] = [];
  const writes: Promise<void>[] = [];
  const head = [BUNDLE_MANIFEST, BUNDLE_SIGNATURE];
  await tar.t({
    file,
    onReadEntry: (entry) => {
      const path = entry.path;
      if (head.includes(path) || entry.type === 'Directory') {
        entry.resume();
        return;
      }
      const expected = listed.get(path);
      if (!expected) {
        problems.push(`${JSON.stringify(path)}: not listed in ${BUNDLE_MANIFEST}`);
        entry.resume();
        return;
      }
      if (seen.has(path)) {
        problems.push(`${path}: in the archive twice`);
        entry.resume();
        return;
      }
      seen.add(path);
      // the header's size first: an entry longer than listed is never written
      if (entry.size !== expected.size) {
        problems.push(`${path}: ${entry.size} bytes in the archive, ${expected.size} listed in ${BUNDLE_MANIFEST}`);
        entry.resume();
        return;
      }
      let target: string | undefined;
      try {
        target = into ? inside(into, `${path}.partial`) : undefined;
      } catch (err) {
        problems.push(`${path}: ${(err as Error).message}`);
        entry.resume();
        return;
      }
      if (target) mkdirSync(dirname(target), { recursive: true });
      const hash = createHash('sha256');
      let size = 0;
      // one consumer of the entry: the hash sees exactly what is written
      const hashing = new Transform({
        transform(piece: Buffer, _encoding, callback) {
          hash.update(piece);
          size += piece.length;
          callback(null, piece);
        },
      });
      const sink = target
        ? createWriteStream(target, { mode: 0o600 })
        : new Writable({
            write: (_piece, _encoding, callback) => {
              callback();
            },
          });
      const done = pipeline(entry as unknown as NodeJS.ReadableStream, hashing, sink).then(() => {
        const sha256 = hash.digest('hex');
        if (sha256 !== expected.sha256 || size !== expected.size) {
          problems.push(
            `${path}: content differs from ${BUNDLE_MANIFEST} (sha256 ${sha256}, ${size} bytes; listed ${expected.sha256}, ${expected.size} bytes)`,
          );
          if (target) rmSync(target, { force: true });
        } else if (target) renameSync(target, target.slice(0, -'.partial'.length));
      });
      writes.push(done);
    },
  });
  await Promise.all(writes);
  for (const path of listed.keys()) if (!seen.has(path)) problems.push(`${path}: listed in ${BUNDLE_MANIFEST} but not in the archive`);
  return { problems, checked: seen.size };
}

/** `bundle verify`: bundle.json valid, every entry's digest; the problems found (none: the bundle is whole). */
export async function verifyBundle(file: string): Promise<{ head: BundleHead; problems: string[]; checked: number }> {
  const head = await bundleHead(file);
  return { head, ...(await checkEntries(file, head.manifest)) };
}

/**
 * The bundle, its trust decided under `policy`, verified and extracted into the cache (once per
 * bundle.json and archive file: a changed file is checked again). Every path it hands out is a
 * listed, verified entry inside the cache directory.
 */
export async function openBundle(file: string, policy: TrustPolicy, names: { keys: string; sha256: string }): Promise<OpenBundle> {
  const head = await bundleHead(file);
  const trust = bundleTrust(head, policy, names);
  const { manifest } = head;
  const dir = join(cacheRoot(), head.manifestSha256.slice(0, 24));
  const stat = statSync(file);
  const stamp = `${stat.size}:${stat.mtimeMs}\n`;
  const marker = join(dir, '.verified');
  if (!existsSync(marker) || readFileSync(marker, 'utf8') !== stamp) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { problems } = await checkEntries(file, manifest, dir);
    if (problems.length) {
      rmSync(dir, { recursive: true, force: true });
      throw new BundleError(`${file} is damaged: ${problems.join('; ')}`);
    }
    writeFileSync(marker, stamp);
  }
  const blobs = new Set(manifest.entries.map((e) => BLOB_ENTRY.exec(e.path)?.[1]).filter(Boolean));
  return {
    file,
    manifest,
    manifestSha256: head.manifestSha256,
    trust,
    dir,
    calicoManifest: manifest.calicoManifest ? readFileSync(inside(dir, manifest.calicoManifest), 'utf8') : undefined,
    packageFiles: (family, architecture) =>
      manifest.packages.filter((p) => p.family === family && p.architecture === architecture).map((p) => inside(dir, p.path)),
    blobFile: (digest) => {
      if (!DIGEST.test(digest) || !blobs.has(digest.slice('sha256:'.length)))
        throw new BundleError(`${file}: ${JSON.stringify(digest)} is not a blob the bundle lists`);
      return inside(dir, blobEntry(digest));
    },
  };
}

/**
 * What the inventory needs that the bundle lacks, before any host is touched: another release,
 * a missing image (by the name the manifests use), the Calico manifest, or a Calico manifest
 * other than the one `calicoManifestSha256` pins.
 */
export function bundleProblems(inv: Inventory, bundle: Pick<OpenBundle, 'file' | 'manifest' | 'calicoManifest'>): string[] {
  const { manifest } = bundle;
  const wanted = versionTag(parseVersion(inv.cluster.kubernetesVersion)!);
  if (manifest.kubernetesVersion !== wanted)
    return [
      `the bundle is for Kubernetes ${manifest.kubernetesVersion}, the inventory's cluster.kubernetesVersion is ${wanted}: create a bundle for ${wanted}`,
    ];
  const problems: string[] = [];
  const cni = inv.cluster.cni;
  if (cni.plugin === 'calico' && bundle.calicoManifest === undefined)
    problems.push('the bundle has no Calico manifest (cluster.cni.plugin is calico)');
  if (cni.plugin === 'calico' && bundle.calicoManifest !== undefined && cni.calicoManifestSha256) {
    const actual = createHash('sha256').update(bundle.calicoManifest).digest('hex');
    if (actual !== cni.calicoManifestSha256)
      problems.push(
        `the bundle's Calico manifest has sha256 ${actual}, but cluster.cni.calicoManifestSha256 pins ${cni.calicoManifestSha256}: refusing to install what was not reviewed`,
      );
  }
  const has = new Map(manifest.images.map((i) => [i.name, i]));
  for (const image of clusterImages(inv, bundle.calicoManifest)) {
    const found = has.get(image.name);
    if (!found)
      problems.push(
        `the bundle lacks the image ${image.name} (run by ${image.roles.map((r) => (r === 'site-registry' ? 'the site registry' : `${r} nodes`)).join(' and ')})`,
      );
    else {
      const lacking = manifest.platforms.filter((p) => !found.platforms[p]);
      if (lacking.length) problems.push(`the bundle's ${image.name} lacks ${lacking.join(', ')}`);
    }
  }
  return problems;
}

/** What one host needs of the bundle: its platform and its package family. */
export function hostProblems(
  bundle: Pick<OpenBundle, 'manifest'>,
  machine: string,
  packageManager: string,
  kubePackagesWanted: boolean,
): string[] {
  const platform = `linux/${goArchitecture(machine)}`;
  const problems: string[] = [];
  if (!bundle.manifest.platforms.includes(platform))
    problems.push(
      `the bundle has no ${platform} images (it has ${bundle.manifest.platforms.join(', ')}): create it with --platform ${platform}`,
    );
  const family: PackageFamily | undefined =
    packageManager === 'apt' ? 'deb' : packageManager === 'dnf' || packageManager === 'yum' ? 'rpm' : undefined;
  const arch = family === 'deb' ? debArchitecture(goArchitecture(machine)) : machine;
  if (kubePackagesWanted && family && !bundle.manifest.packages.some((p) => p.family === family && p.architecture === arch)) {
    problems.push(
      `the bundle has no ${family} packages for ${arch} (it has ${[...new Set(bundle.manifest.packages.map((p) => `${p.family}/${p.architecture}`))].join(', ') || 'none'})`,
    );
  }
  return problems;
}
