/**
 * A client of the registry HTTP API v2 (the OCI distribution spec) for what a bundle needs:
 * manifests by tag or digest, image indexes and Docker manifest lists resolved to the hosts'
 * platforms, and blobs downloaded resumably (a dropped connection continues with a Range
 * request) and verified against their digests. Authentication follows the registry's
 * challenge: Bearer tokens from its token service (anonymous or with credentials), or Basic.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { manifestReference, type ImageRef } from './image-ref.js';

export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;
const ACCEPT = Object.values(MEDIA_TYPES).join(', ');
const isIndex = (mediaType: string) => mediaType === MEDIA_TYPES.ociIndex || mediaType === MEDIA_TYPES.dockerList;

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: Platform;
}

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

export const platformName = (p: Platform) => `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;

export function parsePlatform(text: string): Platform {
  const [os, architecture, variant, extra] = text.split('/');
  if (!os || !architecture || extra !== undefined || !/^[a-z0-9]+$/.test(os + architecture + (variant ?? ''))) throw new Error(`${text}: not a platform (os/architecture[/variant], e.g. linux/amd64)`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}

/** One platform's image manifest, with its exact bytes (what is stored and what its digest covers). */
export interface ImageManifest {
  readonly descriptor: Descriptor;
  readonly bytes: Buffer;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
}

export interface ResolvedImage {
  /** Digest of what the tag names: the index when there is one, else the manifest. */
  readonly digest: string;
  /** Per platform name (linux/amd64), the image manifest for it. */
  readonly manifests: ReadonlyMap<string, ImageManifest>;
}

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

export interface RegistryClientOptions {
  /** The base URL that serves `registry` (a mirror, or plain http for a lab registry); default https://registry (Docker Hub's API host for docker.io). */
  readonly endpoint?: (registry: string) => string | undefined;
  readonly credentials?: (registry: string) => Credentials | undefined;
  /** Attempts per blob before giving up; each continues where the previous stopped. */
  readonly attempts?: number;
}

export class RegistryError extends Error {}

export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** `Bearer realm="…",service="…",scope="…"` → scheme and parameters. */
function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const scheme = header.trim().split(/\s+/, 1)[0]!.toLowerCase();
  const params: Record<string, string> = {};
  for (const m of header.matchAll(/(\w+)="([^"]*)"/g)) params[m[1]!] = m[2]!;
  return { scheme, params };
}

export class RegistryClient {
  private readonly authorizations = new Map<string, string>();
  private readonly attempts: number;

  constructor(private readonly options: RegistryClientOptions = {}) {
    this.attempts = options.attempts ?? 5;
  }

  private base(registry: string): string {
    const configured = this.options.endpoint?.(registry);
    if (configured) return configured.replace(/\/$/, '');
    return registry === 'docker.io' ? 'https://registry-1.docker.io' : `https://${registry}`;
  }

  /** GET with the registry's authentication: on a 401 the challenge says how to authenticate, once per repository. */
  private async get(ref: ImageRef, path: string, headers: Record<string, string> = {}): Promise<Response> {
    const url = `${this.base(ref.registry)}/v2/${ref.repository}/${path}`;
    const key = `${ref.registry}/${ref.repository}`;
    const send = () => {
      const auth = this.authorizations.get(key);
      return fetch(url, { headers: { ...headers, ...(auth ? { authorization: auth } : {}) } });
    };
    let res = await send();
    if (res.status === 401 && !this.authorizations.has(key)) {
      const challenge = res.headers.get('www-authenticate');
      await res.body?.cancel();
      if (!challenge) throw new RegistryError(`${url}: HTTP 401 without a WWW-Authenticate challenge`);
      this.authorizations.set(key, await this.authorize(ref, parseChallenge(challenge)));
      res = await send();
    }
    return res;
  }

  private async authorize(ref: ImageRef, challenge: { scheme: string; params: Record<string, string> }): Promise<string> {
    const credentials = this.options.credentials?.(ref.registry);
    const basic = credentials ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}` : undefined;
    if (challenge.scheme === 'basic') {
      if (!basic) throw new RegistryError(`${ref.registry} asks for a user name and password (Basic), and none is configured for it`);
      return basic;
    }
    if (challenge.scheme !== 'bearer' || !challenge.params.realm) throw new RegistryError(`${ref.registry}: unsupported authentication challenge ${challenge.scheme}`);
    const query = new URLSearchParams({ ...(challenge.params.service ? { service: challenge.params.service } : {}), scope: challenge.params.scope ?? `repository:${ref.repository}:pull` });
    const res = await fetch(`${challenge.params.realm}?${query}`, { headers: basic ? { authorization: basic } : {} });
    if (!res.ok) throw new RegistryError(`${ref.registry}: its token service ${challenge.params.realm} answered HTTP ${res.status}${basic ? ' (to the configured credentials)' : ' (anonymous)'}`);
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryError(`${ref.registry}: its token service ${challenge.params.realm} returned no token`);
    return `Bearer ${token}`;
  }

  /** A manifest's bytes by tag or digest, checked against the digest it was asked by and the one the registry names. */
  private async manifest(ref: ImageRef, reference: string): Promise<{ mediaType: string; bytes: Buffer; digest: string }> {
    const res = await this.get(ref, `manifests/${reference}`, { accept: ACCEPT });
    const name = `${ref.registry}/${ref.repository}:${reference}`;
    if (res.status === 404) throw new RegistryError(`${name}: not found in the registry (${this.base(ref.registry)})`);
    if (res.status === 401 || res.status === 403) {
      throw new RegistryError(`${name}: the registry refused access (HTTP ${res.status}); kubestrap reads registry logins from $REGISTRY_AUTH_FILE or ~/.docker/config.json (docker login, skopeo login)`);
    }
    if (!res.ok) throw new RegistryError(`${name}: the registry answered HTTP ${res.status}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    const digest = sha256Digest(bytes);
    const named = res.headers.get('docker-content-digest');
    if ((reference.startsWith('sha256:') && digest !== reference) || (named && named !== digest)) {
      throw new RegistryError(`${name}: manifest digest mismatch (content is ${digest}, expected ${reference.startsWith('sha256:') ? reference : named})`);
    }
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim() || ((JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType ?? '');
    if (!Object.values(MEDIA_TYPES).includes(mediaType as never)) throw new RegistryError(`${name}: unsupported manifest type ${mediaType || '(none)'} (kubestrap reads OCI and Docker schema 2 manifests)`);
    return { mediaType, bytes, digest };
  }

  /** The image manifests of `ref` for each of `platforms`; a platform the image lacks is an error naming it. */
  async resolve(ref: ImageRef, platforms: readonly Platform[]): Promise<ResolvedImage> {
    const top = await this.manifest(ref, manifestReference(ref));
    const manifests = new Map<string, ImageManifest>();
    const name = `${ref.registry}/${ref.repository}:${manifestReference(ref)}`;
    if (isIndex(top.mediaType)) {
      const index = JSON.parse(top.bytes.toString('utf8')) as { manifests: Descriptor[] };
      for (const platform of platforms) {
        const entry = index.manifests.find((m) => m.platform && m.platform.os === platform.os && m.platform.architecture === platform.architecture && (!platform.variant || m.platform.variant === platform.variant));
        if (!entry) throw new RegistryError(`${name} has no ${platformName(platform)} image (it has ${index.manifests.map((m) => (m.platform ? platformName(m.platform) : '?')).join(', ')})`);
        const child = await this.manifest(ref, entry.digest);
        manifests.set(platformName(platform), imageManifest(child, platform));
      }
    } else {
      const single = imageManifest(top, undefined);
      const config = JSON.parse((await this.blobBytes(ref, single.config)).toString('utf8')) as { os?: string; architecture?: string; variant?: string };
      const own: Platform = { os: config.os ?? 'linux', architecture: config.architecture ?? 'amd64', ...(config.variant ? { variant: config.variant } : {}) };
      for (const platform of platforms) {
        if (own.os !== platform.os || own.architecture !== platform.architecture) throw new RegistryError(`${name} has no ${platformName(platform)} image (it is a single ${platformName(own)} image)`);
        manifests.set(platformName(platform), { ...single, descriptor: { ...single.descriptor, platform: own } });
      }
    }
    return { digest: top.digest, manifests };
  }

  /** A small blob (an image configuration) in memory, verified. */
  async blobBytes(ref: ImageRef, blob: Descriptor): Promise<Buffer> {
    const res = await this.get(ref, `blobs/${blob.digest}`);
    if (!res.ok) throw new RegistryError(`${ref.registry}/${ref.repository}: blob ${blob.digest}: HTTP ${res.status}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    if (sha256Digest(bytes) !== blob.digest) throw new RegistryError(`${ref.registry}/${ref.repository}: blob ${blob.digest}: digest mismatch (content is ${sha256Digest(bytes)})`);
    return bytes;
  }

  /**
   * Downloads a blob to `path` (atomically, through `path.partial`), resuming after a dropped
   * connection with a Range request; a finished blob whose content does not match its digest is
   * deleted and refused. Returns the bytes that crossed the network.
   */
  async downloadBlob(ref: ImageRef, blob: Descriptor, path: string): Promise<number> {
    const partial = `${path}.partial`;
    await mkdir(dirname(path), { recursive: true });
    let received = 0;
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      let have = existsSync(partial) ? statSync(partial).size : 0;
      try {
        if (have < blob.size) {
          const res = await this.get(ref, `blobs/${blob.digest}`, have > 0 ? { range: `bytes=${have}-` } : {});
          if (res.status !== 200 && res.status !== 206) throw new RegistryError(`${ref.registry}/${ref.repository}: blob ${blob.digest}: HTTP ${res.status}`);
          if (res.status === 200) have = 0; // the registry ignored the range: start over
          const file = await open(partial, have > 0 ? 'a' : 'w');
          try {
            for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
              received += piece.length;
              await file.write(piece);
            }
          } finally {
            await file.close();
          }
        }
        await this.finish(ref, blob, partial, path);
        return received;
      } catch (err) {
        if (err instanceof RegistryError) throw err;
        lastError = err;
      }
    }
    const cause = lastError instanceof Error ? (lastError.cause instanceof Error ? lastError.cause.message : lastError.message) : String(lastError);
    throw new RegistryError(`${ref.registry}/${ref.repository}: blob ${blob.digest}: download failed ${this.attempts} times, last: ${cause}`);
  }

  private async finish(ref: ImageRef, blob: Descriptor, partial: string, path: string): Promise<void> {
    const digest = await fileDigest(partial);
    if (digest !== blob.digest) {
      rmSync(partial, { force: true });
      throw new RegistryError(`${ref.registry}/${ref.repository}: blob ${blob.digest}: digest mismatch (downloaded content is ${digest}); refused`);
    }
    renameSync(partial, path);
  }
}

/** sha256:<hex> of a file's content, streamed. */
export async function fileDigest(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(path)) hash.update(piece as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

function imageManifest(m: { mediaType: string; bytes: Buffer; digest: string }, platform: Platform | undefined): ImageManifest {
  const body = JSON.parse(m.bytes.toString('utf8')) as { config: Descriptor; layers: Descriptor[] };
  return { descriptor: { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length, ...(platform ? { platform } : {}) }, bytes: m.bytes, config: body.config, layers: body.layers };
}
