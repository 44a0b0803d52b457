/**
 * airgap-images: with an air-gap bundle, every node gets the images it runs from the bundle
 * instead of a registry. Plan lists each image the node lacks (or holds under another digest);
 * apply sends only those, as one tar stream of an OCI layout, checks every blob's sha256 on
 * arrival, and imports them into containerd's k8s.io namespace under the names the manifests
 * use. In site registry mode only the registry's host gets them (all of them, and the registry's
 * own image in the `kubestrap` namespace). After containerd, before anything that starts a container.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import { goArchitecture } from '../src/airgap/architectures.js';
import { clusterImages, roleOf } from '../src/airgap/cluster-images.js';
import type { BundleImage, Descriptor } from '../src/kit/bundle.js';
import type { Change, Phase } from '../src/kit/phase.js';

type Payload = {
  readonly image: string;
  readonly namespace: Namespace;
  readonly manifest: Descriptor;
  readonly blobs: readonly Descriptor[];
};

/** containerd namespaces: the kubelet's (CRI), and kubestrap's own for the site registry, out of the kubelet's image garbage collection. */
type Namespace = 'k8s.io' | 'kubestrap';
const NAMESPACES: readonly Namespace[] = ['k8s.io', 'kubestrap'];

/** Where the node unpacks an upload; removed when the import ends, whatever happens. */
const UPLOAD_DIR = '/var/lib/kubestrap/image-upload';
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** NAMESPACE REF DIGEST of every image of those namespaces (none when containerd is not there yet). */
const LIST_IMAGES = NAMESPACES.map((ns) => `ctr -n ${ns} images ls 2>/dev/null | awk 'NR > 1 {print "${ns}", $1, $3}' || true`).join('\n');

/**
 * Unpacks the stream, checks that every blob arrived whole (its file name is its digest) and
 * that none is missing, then imports the OCI layout. A connection cut mid-stream leaves a short
 * tar: tar or the check fails, and nothing is imported.
 */
function importScript(blobCount: number, namespaces: readonly Namespace[]): string {
  return [
    'set -e',
    `d=${UPLOAD_DIR}`,
    'rm -rf "$d" && mkdir -p "$d"',
    'trap \'rm -rf "$d"\' EXIT',
    'tar -x -C "$d" -f -',
    'cd "$d/blobs/sha256"',
    `n=$(ls | wc -l); [ "$n" -eq ${blobCount} ] || { echo "upload incomplete: $n of ${blobCount} blobs arrived" >&2; exit 1; }`,
    'for f in *; do printf "%s  %s\\n" "$f" "$f"; done | sha256sum -c --quiet --strict - >&2 || { echo "a blob does not match its digest" >&2; exit 1; }',
    ...namespaces.map(
      (ns) =>
        `cd "$d" && cp index-${ns}.json index.json && tar -c -f - oci-layout index.json blobs | ctr -n ${ns} images import - >/dev/null`,
    ),
  ].join('\n');
}

export const airgapImagesPhase: Phase<Payload> = {
  name: 'airgap-images',
  title: 'images from the air-gap bundle into containerd',
  description:
    "With cluster.airgap.bundle: uploads the images a node runs and lacks (only those), verifies them on arrival and imports them into containerd's k8s.io namespace.",
  // in site registry mode only the registry's host gets images; the others pull them from it
  selectHosts: (ctx) =>
    !ctx.bundle
      ? []
      : ctx.inventory.cluster.airgap.registry
        ? ctx.hosts.filter((h) => h.spec.name === ctx.inventory.cluster.airgap.registry!.host)
        : ctx.hosts,
  async plan(ctx, target) {
    const bundle = ctx.bundle!;
    const platform = `linux/${goArchitecture(target.facts.arch)}`;
    const role = roleOf(target.spec);
    const inBundle = new Map<string, BundleImage>(bundle.manifest.images.map((i) => [i.name, i]));
    const present = new Map(
      (await target.host.check(LIST_IMAGES)).stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' '))
        .map(([ns, ref, digest]) => [`${ns} ${ref}`, digest!]),
    );
    const changes: Change<Payload>[] = [];
    // the site registry's host holds every image, to serve them
    const serving = !!ctx.inventory.cluster.airgap.registry;
    const neededHere = clusterImages(ctx.inventory, bundle.calicoManifest).filter((i) => serving || i.roles.includes(role));
    for (const needed of neededHere) {
      // bundleProblems refused a bundle without these before any host was touched
      const image = inBundle.get(needed.name)!.platforms[platform]!;
      const namespace: Namespace = needed.roles.includes('site-registry') ? 'kubestrap' : 'k8s.io';
      const now = present.get(`${namespace} ${needed.name}`);
      if (now === image.manifest.digest) continue;
      const size = image.manifest.size + image.blobs.reduce((s, b) => s + b.size, 0);
      changes.push({
        target: `image ${needed.name}`,
        summary: `import from the bundle (${mib(size)})${now ? `, replacing ${now.slice(0, 19)}` : ''}`,
        payload: { image: needed.name, namespace, manifest: image.manifest, blobs: image.blobs },
      });
    }
    if (changes.length === 0)
      ctx.log.write(target.spec.name, `air-gap bundle: ${neededHere.length} images present with the bundle's digests; 0 bytes to upload`);
    return { changes };
  },
  async apply(ctx, target, changes) {
    const bundle = ctx.bundle!;
    const stage = mkdtempSync(join(tmpdir(), 'kubestrap-images-'));
    try {
      const blobs = new Map<string, Descriptor>();
      for (const { payload } of changes) for (const d of [payload.manifest, ...payload.blobs]) blobs.set(d.digest, d);
      mkdirSync(join(stage, 'blobs', 'sha256'), { recursive: true });
      // blobFile hands out only digests the bundle lists and verified, as paths inside its directory
      for (const digest of blobs.keys())
        symlinkSync(bundle.blobFile(digest), join(stage, 'blobs', 'sha256', digest.slice('sha256:'.length)));
      writeFileSync(join(stage, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
      const namespaces = NAMESPACES.filter((ns) => changes.some((c) => c.payload.namespace === ns));
      for (const ns of namespaces) {
        const index = {
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: changes
            .filter((c) => c.payload.namespace === ns)
            .map(({ payload }) => ({
              ...payload.manifest,
              annotations: {
                'io.containerd.image.name': payload.image,
                'org.opencontainers.image.ref.name': payload.image.slice(payload.image.lastIndexOf(':') + 1),
              },
            })),
        };
        writeFileSync(join(stage, `index-${ns}.json`), JSON.stringify(index));
      }
      const total = [...blobs.values()].reduce((s, b) => s + b.size, 0);
      ctx.progress(
        target.spec.name,
        `uploading ${changes.length} image${changes.length === 1 ? '' : 's'} (${blobs.size} blobs, ${mib(total)})`,
      );
      const stream = tar.c({ cwd: stage, follow: true, portable: true }, [
        'oci-layout',
        ...namespaces.map((ns) => `index-${ns}.json`),
        'blobs',
      ]);
      const { stdinBytes } = await target.host.checkFrom(importScript(blobs.size, namespaces), stream, { timeoutMs: 60 * 60_000 });
      ctx.log.write(target.spec.name, `air-gap bundle: uploaded ${stdinBytes} bytes (${changes.length} images, ${blobs.size} blobs)`);
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
  },
};
