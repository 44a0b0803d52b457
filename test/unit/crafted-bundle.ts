/**
 * Air-gap bundles made by hand for the refusal tests: a bundle.json and entries as a test
 * chooses them, archived as plain ustar with node-tar's header encoder, so any path and any
 * listed size can be written. `servingBundle` lists what an inventory's cluster needs (the
 * images kubestrap renders, with small stand-in blobs, and stand-in packages): a bundle that
 * passes every check, for a test to turn hostile one field at a time.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';
import { clusterImages } from '../../src/airgap/cluster-images.js';
import { signatureEntry } from '../../src/airgap/bundle-signature.js';
import type { BundleManifest } from '../../src/kit/bundle.js';
import type { Inventory } from '../../src/inventory/schema.js';
import type { KeyObject } from 'node:crypto';

export interface CraftedEntry {
  readonly path: string;
  readonly content: Buffer;
  /** What the tar header says the size is, when a test lies about it. */
  readonly headerSize?: number;
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const block = (n: number) => Math.ceil(n / 512) * 512;

/** A plain tar (or gzip-compressed with `gzip`) of exactly these entries, in this order. */
export function writeTar(file: string, entries: readonly CraftedEntry[], options: { gzip?: boolean } = {}): void {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const header = Buffer.alloc(512);
    new tar.Header({
      path: e.path,
      mode: 0o644,
      size: e.headerSize ?? e.content.length,
      type: 'File',
      mtime: new Date(0),
      uid: 0,
      gid: 0,
    }).encode(header, 0);
    const body = Buffer.alloc(block(e.content.length));
    e.content.copy(body);
    parts.push(header, body);
  }
  parts.push(Buffer.alloc(1024));
  const archive = Buffer.concat(parts);
  writeFileSync(file, options.gzip ? gzipSync(archive) : archive);
}

export interface ServingBundle {
  manifest: BundleManifest;
  /** Every entry but bundle.json, by path. */
  files: Map<string, Buffer>;
}

/** bundle.json and entries of a bundle that serves `inv` on linux/amd64 with deb packages (stand-in content), and `calico` as its Calico manifest. */
export function servingBundle(inv: Inventory, calico?: string): ServingBundle {
  const files = new Map<string, Buffer>();
  const blob = (content: string, mediaType: string) => {
    const bytes = Buffer.from(content);
    files.set(`images/blobs/sha256/${sha256(bytes)}`, bytes);
    return { mediaType, digest: `sha256:${sha256(bytes)}`, size: bytes.length };
  };
  if (calico !== undefined) files.set('manifests/calico.yaml', Buffer.from(calico));
  const images = clusterImages(inv, calico).map((needed) => {
    const config = blob(
      `{"architecture":"amd64","os":"linux","stand-in":${JSON.stringify(needed.name)}}`,
      'application/vnd.oci.image.config.v1+json',
    );
    const layer = blob(`stand-in layer of ${needed.name}`, 'application/vnd.oci.image.layer.v1.tar');
    const manifest = blob(
      JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layer] }),
      'application/vnd.oci.image.manifest.v1+json',
    );
    return {
      name: needed.name,
      roles: needed.roles,
      digest: manifest.digest,
      platforms: { 'linux/amd64': { manifest: { ...manifest, platform: { os: 'linux', architecture: 'amd64' } }, blobs: [config, layer] } },
    };
  });
  const packages = ['kubelet', 'kubectl', 'cri-tools'].map((name) => {
    const path = `packages/deb/amd64/${name}_1.20.2-1.1_amd64.deb`;
    files.set(path, Buffer.from(`stand-in package ${name}`));
    return { family: 'deb' as const, architecture: 'amd64', name, version: '1.20.2-1.1', path };
  });
  const manifest: BundleManifest = {
    format: 'kubestrap.dev/bundle/v1',
    kubernetesVersion: inv.cluster.kubernetesVersion,
    platforms: ['linux/amd64'],
    packageFamilies: ['deb'],
    images,
    packages,
    ...(calico !== undefined ? { calicoManifest: 'manifests/calico.yaml' } : {}),
    entries: [...files]
      .map(([path, content]) => ({ path, sha256: sha256(content), size: content.length }))
      .sort((a, b) => a.path.localeCompare(b.path)),
  };
  return { manifest, files };
}

/** The bundle file: bundle.json (as text, so a test can change one byte), the signature when asked, then the entries. */
export function craftBundle(
  file: string,
  manifestText: string,
  files: ReadonlyMap<string, Buffer>,
  options: { signWith?: KeyObject; signatureOf?: string; gzip?: boolean; extra?: readonly CraftedEntry[] } = {},
): void {
  const signed = options.signatureOf ?? manifestText;
  const signature = options.signWith
    ? [{ path: 'bundle.sig', content: Buffer.from(signatureEntry(Buffer.from(signed), options.signWith)) }]
    : [];
  writeTar(
    file,
    [
      { path: 'bundle.json', content: Buffer.from(manifestText) },
      ...signature,
      ...[...files].map(([path, content]) => ({ path, content })),
      ...(options.extra ?? []),
    ],
    options,
  );
}

export const manifestText = (m: BundleManifest) => `${JSON.stringify(m, null, 2)}\n`;

/**
 * An inventory of a 1.20.2 cluster (images under registry.local, no CNI, CoreDNS or
 * metrics-server) on `hosts` (a control plane and a worker), written into `dir` as NAME.yaml;
 * `cluster` fields on top. What the bundle tests create bundles for and refuse them against.
 */
export function bundleInventory(
  dir: string,
  name: string,
  hosts: readonly [Record<string, unknown>, Record<string, unknown>],
  packageMirror: string,
  cluster: Record<string, unknown> = {},
): string {
  const file = join(dir, `${name}.yaml`);
  const inventory = {
    apiVersion: 'kubestrap.dev/v1alpha1',
    kind: 'Cluster',
    hosts: [
      { name: 'cp-1', roles: ['control-plane'], ...hosts[0] },
      { name: 'worker-1', roles: ['worker'], ...hosts[1] },
    ],
    hostDefaults: { user: 'root', auth: { keyPath: join(dir, 'id_ed25519') } },
    cluster: {
      kubernetesVersion: 'v1.20.2',
      imageRepository: 'registry.local',
      etcd: { imageTag: '3.4.13-0' },
      packages: { source: 'mirror', mirror: packageMirror, unsigned: true },
      cni: { plugin: 'none' },
      addons: { coreDNS: false, metricsServer: false },
      ...cluster,
    },
  };
  writeFileSync(file, stringify(inventory));
  return file;
}
