/**
 * airgap-images: with an air-gap bundle, every node gets the images it runs from the bundle
 * instead of a registry. Plan lists each image the node lacks (or holds under another digest);
 * apply sends only those, as one tar stream of an OCI layout, checks every blob's sha256 on
 * arrival, and imports them into containerd's k8s.io namespace under the names the manifests
 * use. After containerd, before anything that starts a container.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import { blobEntry, goArchitecture, type BundleImage } from '../src/airgap/bundle.js';
import { clusterImages, roleOf } from '../src/airgap/cluster-images.js';
import type { Descriptor } from '../src/airgap/registry-client.js';
import type { Change, Phase } from '../src/workflow/phase.js';

type Payload = { readonly image: string; readonly manifest: Descriptor; readonly blobs: readonly Descriptor[] };

/** Where the node unpacks an upload; removed when the import ends, whatever happens. */
const UPLOAD_DIR = '/var/lib/kubestrap/image-upload';
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** REF DIGEST of every image containerd's CRI namespace holds (none when containerd is not there yet). */
const LIST_IMAGES = "ctr -n k8s.io images ls 2>/dev/null | awk 'NR > 1 {print $1, $3}' || true";

/**
 * Unpacks the stream, checks that every blob arrived whole (its file name is its digest) and
 * that none is missing, then imports the OCI layout. A connection cut mid-stream leaves a short
 * tar: tar or the check fails, and nothing is imported.
 */
function importScript(blobCount: number): string {
  return [
    'set -e',
    `d=${UPLOAD_DIR}`,
    'rm -rf "$d" && mkdir -p "$d"',
    "trap 'rm -rf \"$d\"' EXIT",
    'tar -x -C "$d" -f -',
    'cd "$d/blobs/sha256"',
    `n=$(ls | wc -l); [ "$n" -eq ${blobCount} ] || { echo "upload incomplete: $n of ${blobCount} blobs arrived" >&2; exit 1; }`,
    'for f in *; do printf "%s  %s\\n" "$f" "$f"; done | sha256sum -c --quiet --strict - >&2 || { echo "a blob does not match its digest" >&2; exit 1; }',
    'cd "$d" && tar -c -f - oci-layout index.json blobs | ctr -n k8s.io images import - >/dev/null',
  ].join('\n');
}

export const airgapImagesPhase: Phase<Payload> = {
  name: 'airgap-images',
  title: 'images from the air-gap bundle into containerd',
  description: "With cluster.airgap.bundle: uploads the images a node runs and lacks (only those), verifies them on arrival and imports them into containerd's k8s.io namespace.",
  selectHosts: (ctx) => (ctx.bundle ? ctx.hosts : []),
  async plan(ctx, target) {
    const bundle = ctx.bundle!;
    const platform = `linux/${goArchitecture(target.facts.arch)}`;
    const role = roleOf(target.spec);
    const inBundle = new Map<string, BundleImage>(bundle.manifest.images.map((i) => [i.name, i]));
    const present = new Map(
      (await target.host.check(LIST_IMAGES)).stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ') as [string, string]),
    );
    const changes: Change<Payload>[] = [];
    const neededHere = clusterImages(ctx.inventory, bundle.calicoManifest).filter((i) => i.roles.includes(role));
    for (const needed of neededHere) {
      // bundleProblems refused a bundle without these before any host was touched
      const image = inBundle.get(needed.name)!.platforms[platform]!;
      const now = present.get(needed.name);
      if (now === image.manifest.digest) continue;
      const size = image.manifest.size + image.blobs.reduce((s, b) => s + b.size, 0);
      changes.push({ target: `image ${needed.name}`, summary: `import from the bundle (${mib(size)})${now ? `, replacing ${now.slice(0, 19)}` : ''}`, payload: { image: needed.name, manifest: image.manifest, blobs: image.blobs } });
    }
    if (changes.length === 0) ctx.log.write(target.spec.name, `air-gap bundle: ${neededHere.length} images present with the bundle's digests; 0 bytes to upload`);
    return { changes };
  },
  async apply(ctx, target, changes) {
    const bundle = ctx.bundle!;
    const stage = mkdtempSync(join(tmpdir(), 'kubestrap-images-'));
    try {
      const blobs = new Map<string, Descriptor>();
      for (const { payload } of changes) for (const d of [payload.manifest, ...payload.blobs]) blobs.set(d.digest, d);
      mkdirSync(join(stage, 'blobs', 'sha256'), { recursive: true });
      for (const digest of blobs.keys()) symlinkSync(join(bundle.dir, blobEntry(digest)), join(stage, 'blobs', 'sha256', digest.slice('sha256:'.length)));
      writeFileSync(join(stage, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
      const index = {
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: changes.map(({ payload }) => ({
          ...payload.manifest,
          annotations: { 'io.containerd.image.name': payload.image, 'org.opencontainers.image.ref.name': payload.image.slice(payload.image.lastIndexOf(':') + 1) },
        })),
      };
      writeFileSync(join(stage, 'index.json'), JSON.stringify(index));
      const total = [...blobs.values()].reduce((s, b) => s + b.size, 0);
      ctx.progress(target.spec.name, `uploading ${changes.length} image${changes.length === 1 ? '' : 's'} (${blobs.size} blobs, ${mib(total)})`);
      const stream = tar.c({ cwd: stage, follow: true, portable: true }, ['oci-layout', 'index.json', 'blobs']);
      const { stdinBytes } = await target.host.checkFrom(importScript(blobs.size), stream, { timeoutMs: 60 * 60_000 });
      ctx.log.write(target.spec.name, `air-gap bundle: uploaded ${stdinBytes} bytes (${changes.length} images, ${blobs.size} blobs)`);
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
  },
};
