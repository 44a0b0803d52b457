/**
 * The shapes of the air-gap bundle and of what a registry describes, with no behaviour: the
 * phase contract names `OpenBundle`, so this module imports nothing and depends on nothing.
 */

export const BUNDLE_FORMAT = 'kubestrap.dev/bundle/v1';
export const BUNDLE_MANIFEST = 'bundle.json';
/** The signature of bundle.json, the archive's second entry when the bundle is signed. */
export const BUNDLE_SIGNATURE = 'bundle.sig';
export const CALICO_ENTRY = 'manifests/calico.yaml';
export type PackageFamily = 'deb' | 'rpm';

/** Who runs an image: nodes of a role, or the site registry's host (cluster.airgap.registry), outside Kubernetes. */
export type NodeRole = 'control-plane' | 'worker';
export type ImageUser = NodeRole | 'site-registry';
export const IMAGE_USERS: readonly ImageUser[] = ['control-plane', 'worker', 'site-registry'];

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

/** An OCI content descriptor: what a manifest says of a blob it names. */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: Platform;
}

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

/** Who vouched for a bundle: the trusted key that signed it, or the inventory's pin of bundle.json. */
export type BundleTrust =
  { readonly kind: 'signature'; readonly keyId: string } | { readonly kind: 'pinned'; readonly sha256: string } | { readonly kind: 'none' };

export interface OpenBundle {
  readonly file: string;
  readonly manifest: BundleManifest;
  /** sha256 (hex) of bundle.json's exact bytes: what `cluster.airgap.bundleSha256` pins. */
  readonly manifestSha256: string;
  readonly trust: BundleTrust;
  /** Where the verified entries are (kubestrap's cache). */
  readonly dir: string;
  readonly calicoManifest: string | undefined;
  /** The package files for a family and architecture, as verified paths in `dir`. */
  packageFiles(family: PackageFamily, architecture: string): string[];
  /** A verified blob of an image (a digest the bundle lists), as a path in `dir`. */
  blobFile(digest: string): string;
}
