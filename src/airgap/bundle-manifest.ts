/**
 * bundle.json read as the hostile input it is: a schema (every digest `sha256:<64 hex>`, every
 * path one of the shapes kubestrap writes, sizes safe integers, media types known), then the
 * cross-checks that make every path a bundle names a listed entry whose hash is its name where
 * it has one. A problem names bundle.json's line and the field.
 */
import { formatIssue, formatPath } from '../inventory/issues.js';
import { readDocument } from '../inventory/read-document.js';
import { integer, list, object, oneOf, optional, record, string, type Schema } from '../inventory/schema-dsl.js';
import { parseImageRef } from '../util/image-ref.js';
import { BUNDLE_FORMAT, BUNDLE_MANIFEST, CALICO_ENTRY, IMAGE_USERS, type BundleManifest, type Descriptor } from '../kit/bundle.js';

/** Far above a real bundle.json (a few hundred KiB for 50 images on 3 platforms), far below what the YAML parser could hold. */
export const MAX_BUNDLE_MANIFEST_BYTES = 4 << 20;

export const DIGEST = /^sha256:[0-9a-f]{64}$/;
const HEX = /^[0-9a-f]{64}$/;
export const BLOB_ENTRY = /^images\/blobs\/sha256\/([0-9a-f]{64})$/;
export const PACKAGE_ENTRY = /^packages\/(deb|rpm)\/([a-z0-9_]+)\/[A-Za-z0-9._+~:-]+\.(deb|rpm)$/;
const PLATFORM = /^[a-z0-9]+\/[a-z0-9]+(\/[a-z0-9]+)?$/;

/** The media types of what a bundle carries: image manifests, configs and layers (OCI and Docker schema 2). */
export const BLOB_MEDIA_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.container.image.v1+json',
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
] as const;

const size = (description: string) => integer({ description }, { min: 0, max: Number.MAX_SAFE_INTEGER });
const digest = (description: string) => string({ description }, { pattern: DIGEST, patternHint: 'a digest sha256:<64 lower-case hex>' });
const word = (description: string) =>
  string({ description }, { pattern: /^[A-Za-z0-9][A-Za-z0-9._+~:-]{0,127}$/, patternHint: 'a package name or version' });

const platformSchema = object(
  'platform',
  {
    os: string({ description: 'Operating system.' }, { pattern: /^[a-z0-9]+$/, patternHint: 'an OS name' }),
    architecture: string({ description: 'Architecture.' }, { pattern: /^[a-z0-9]+$/, patternHint: 'an architecture name' }),
    variant: optional(string({ description: 'Variant.' }, { pattern: /^[a-z0-9]+$/, patternHint: 'a variant name' })),
  },
  { description: 'The platform of an image manifest.' },
);

/** A content descriptor, as the registry client validates it too. */
export const descriptorSchema: Schema<Descriptor> = object(
  'descriptor',
  {
    mediaType: oneOf(BLOB_MEDIA_TYPES, { description: 'Media type.' }),
    digest: digest('Digest of the content.'),
    size: size('Size in bytes.'),
    platform: optional(platformSchema),
  },
  { description: 'A content descriptor.' },
);

const bundleSchema: Schema<BundleManifest> = object(
  'bundle manifest',
  {
    format: oneOf([BUNDLE_FORMAT] as const, { description: 'Format of bundle.json.' }),
    kubernetesVersion: string(
      { description: 'The release the bundle serves.' },
      { pattern: /^v\d{1,3}\.\d{1,3}\.\d{1,4}$/, patternHint: 'a version like v1.33.1' },
    ),
    platforms: list(string({ description: 'A platform.' }, { pattern: PLATFORM, patternHint: 'os/architecture[/variant]' }), {
      description: 'Platforms of the images.',
    }),
    packageFamilies: list(oneOf(['deb', 'rpm'] as const, { description: 'A package family.' }), { description: 'Package families.' }),
    images: list(
      object(
        'image',
        {
          name: string({ description: 'The image as the manifests name it.' }, { minLength: 1 }),
          roles: list(oneOf(IMAGE_USERS, { description: 'Who runs it.' }), { description: 'Who runs it.' }),
          digest: digest('What the name resolved to.'),
          platforms: record(
            object(
              'image platform',
              { manifest: descriptorSchema, blobs: list(descriptorSchema, { description: 'Config and layers.' }) },
              { description: 'One platform of the image.' },
            ),
            { description: 'Per platform.' },
            { pattern: PLATFORM, hint: 'os/architecture[/variant]' },
          ),
        },
        { description: 'An image.' },
      ),
      { description: 'Images.' },
    ),
    packages: list(
      object(
        'package',
        {
          family: oneOf(['deb', 'rpm'] as const, { description: 'Package family.' }),
          architecture: string({ description: 'Architecture.' }, { pattern: /^[a-z0-9_]+$/, patternHint: 'an architecture name' }),
          name: word('Package name.'),
          version: word('Package version.'),
          path: string(
            { description: 'Entry of the package file.' },
            { pattern: PACKAGE_ENTRY, patternHint: 'packages/<deb|rpm>/<arch>/<file>.<deb|rpm>' },
          ),
        },
        { description: 'A package.' },
      ),
      { description: 'Packages.' },
    ),
    calicoManifest: optional(oneOf([CALICO_ENTRY] as const, { description: 'Entry of the Calico manifest.' })),
    entries: list(
      object(
        'entry',
        {
          path: string(
            { description: 'Path in the archive.' },
            {
              pattern: new RegExp(`${BLOB_ENTRY.source}|${PACKAGE_ENTRY.source}|^${CALICO_ENTRY.replace('.', '\\.')}$`),
              patternHint: 'an image blob, a package file or the Calico manifest',
            },
          ),
          sha256: string({ description: 'sha256 of the content.' }, { pattern: HEX, patternHint: '64 lower-case hex characters' }),
          size: size('Size in bytes.'),
        },
        { description: 'An entry.' },
      ),
      { description: 'Every entry of the archive but bundle.json.' },
    ),
  },
  { description: 'bundle.json' },
);

export class BundleManifestError extends Error {}

/** Why a descriptor a registry sent cannot be used (its digest becomes a cache path and an entry name), or undefined. */
export function descriptorProblem(value: unknown): string | undefined {
  const d = value as Partial<Descriptor> | null;
  if (!d || typeof d !== 'object') return 'not an object';
  if (typeof d.digest !== 'string' || !DIGEST.test(d.digest))
    return `digest ${JSON.stringify(d.digest)?.slice(0, 100)} is not sha256:<64 hex>`;
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0)
    return `size ${JSON.stringify(d.size)} is not a byte count`;
  if (!(BLOB_MEDIA_TYPES as readonly unknown[]).includes(d.mediaType))
    return `media type ${JSON.stringify(d.mediaType)?.slice(0, 100)} is not one kubestrap carries`;
  return undefined;
}

type Problem = { path: ReadonlyArray<string | number>; message: string };

/** What the schema cannot say: each path a listed entry, each blob's entry named by its hash, sizes agreeing. */
function crossCheck(m: BundleManifest): Problem[] {
  const problems: Problem[] = [];
  const entries = new Map<string, { sha256: string; size: number }>();
  m.entries.forEach((e, i) => {
    if (entries.has(e.path)) problems.push({ path: ['entries', i, 'path'], message: `${e.path} is listed twice` });
    entries.set(e.path, e);
    const blob = BLOB_ENTRY.exec(e.path);
    if (blob && blob[1] !== e.sha256)
      problems.push({ path: ['entries', i, 'sha256'], message: `an image blob's sha256 is its name (${blob[1]})` });
  });
  const blobListed = (d: Descriptor, path: Problem['path']) => {
    const entry = entries.get(`images/blobs/sha256/${d.digest.slice('sha256:'.length)}`);
    if (!entry) problems.push({ path, message: `${d.digest} is not a listed entry` });
    else if (entry.size !== d.size)
      problems.push({ path, message: `${d.digest} is ${d.size} bytes here and ${entry.size} bytes in entries` });
  };
  m.images.forEach((image, i) => {
    try {
      parseImageRef(image.name);
    } catch (err) {
      problems.push({ path: ['images', i, 'name'], message: (err as Error).message });
    }
    for (const [platform, p] of Object.entries(image.platforms)) {
      if (!m.platforms.includes(platform))
        problems.push({ path: ['images', i, 'platforms', platform], message: `${platform} is not one of the bundle's platforms` });
      blobListed(p.manifest, ['images', i, 'platforms', platform, 'manifest', 'digest']);
      p.blobs.forEach((b, j) => {
        blobListed(b, ['images', i, 'platforms', platform, 'blobs', j, 'digest']);
      });
    }
  });
  m.packages.forEach((p, i) => {
    const [, family, architecture] = PACKAGE_ENTRY.exec(p.path)!;
    if (!entries.has(p.path)) problems.push({ path: ['packages', i, 'path'], message: `${p.path} is not a listed entry` });
    if (family !== p.family || architecture !== p.architecture)
      problems.push({ path: ['packages', i, 'path'], message: `${p.path} is not in packages/${p.family}/${p.architecture}/` });
  });
  if (m.calicoManifest && !entries.has(m.calicoManifest))
    problems.push({ path: ['calicoManifest'], message: `${m.calicoManifest} is not a listed entry` });
  return problems;
}

/** bundle.json's text as a manifest, or an error naming every problem by line and field. */
export function parseBundleManifest(text: string, file: string): BundleManifest {
  const where = `${file}:${BUNDLE_MANIFEST}`;
  const { value, issues, locate } = readDocument(text, where, bundleSchema, {
    maxBytes: MAX_BUNDLE_MANIFEST_BYTES,
    tooLarge: 'not a bundle kubestrap wrote',
  });
  if (value && !issues.length) {
    for (const p of crossCheck(value)) {
      const { line, column } = locate(p.path);
      issues.push({ file: where, line, column, path: formatPath(p.path), message: p.message });
    }
  }
  if (issues.length || !value)
    throw new BundleManifestError(
      `${where} is not a valid bundle manifest:\n  ${issues.slice(0, 20).map(formatIssue).join('\n  ')}${issues.length > 20 ? `\n  … and ${issues.length - 20} more` : ''}`,
    );
  return value;
}
