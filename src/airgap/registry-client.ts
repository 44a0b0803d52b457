/**
 * A client of the registry HTTP API v2 (the OCI distribution spec) for what a bundle needs:
 * manifests by tag or digest, image indexes and Docker manifest lists resolved to the hosts'
 * platforms, and blobs downloaded resumably (a dropped connection continues with a Range
 * request) and verified against their digests. Authentication follows the registry's
 * challenge: Bearer tokens from its token service (anonymous or with credentials), or Basic.
 * A registry's answers are hostile until checked: every descriptor is validated before its
 * digest becomes a path, and nothing is read past a bound. A login goes only to the host it is
 * stored for, and only over https.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname } from 'node:path';
import { printable } from '../log/redact.js';
import { descriptorProblem, DIGEST } from './bundle-manifest.js';
import { manifestReference, type ImageRef } from '../util/image-ref.js';
import type { Descriptor, Platform } from '../kit/bundle.js';

export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;
const ACCEPT = Object.values(MEDIA_TYPES).join(', ');
const isIndex = (mediaType: string) => mediaType === MEDIA_TYPES.ociIndex || mediaType === MEDIA_TYPES.dockerList;

/** What registries allow for a manifest; also the bound for an image configuration and a token answer. */
const MAX_DOCUMENT_BYTES = 4 << 20;

export const platformName = (p: Platform) => `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;

export function parsePlatform(text: string): Platform {
  const [os, architecture, variant, extra] = text.split('/');
  if (!os || !architecture || extra !== undefined || !/^[a-z0-9]+$/.test(os + architecture + (variant ?? '')))
    throw new Error(`${text}: not a platform (os/architecture[/variant], e.g. linux/amd64)`);
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
  /** The login stored for a host (host[:port]) kubestrap is about to send a request to. */
  readonly credentials?: (host: string) => Credentials | undefined;
  /** Attempts per blob before giving up; each continues where the previous stopped. */
  readonly attempts?: number;
}

export class RegistryError extends Error {}

export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A response body, refused past `max` bytes (a hostile registry could otherwise send gigabytes into memory). */
async function boundedBody(res: Response, max: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > max) {
    await res.body?.cancel();
    throw new RegistryError(`${what}: ${declared} bytes announced; kubestrap reads at most ${max}`);
  }
  const pieces: Buffer[] = [];
  let total = 0;
  for await (const piece of (res.body ?? []) as AsyncIterable<Uint8Array>) {
    total += piece.length;
    if (total > max) throw new RegistryError(`${what}: more than ${max} bytes; refused`);
    pieces.push(Buffer.from(piece));
  }
  return Buffer.concat(pieces);
}

/** A descriptor from a registry's manifest, or an error naming the field: its digest becomes a cache path. */
function checkedDescriptor(value: unknown, what: string): Descriptor {
  const problem = descriptorProblem(value);
  if (problem) throw new RegistryError(printable(`${what}: ${problem}; refused`));
  return value as Descriptor;
}

/**
 * Whether two URLs belong to one site: the same host (any port), or host names under the same
 * parent domain of the registry (registry.gitlab.com → gitlab.com; registry-1.docker.io →
 * auth.docker.io). A login stored for a registry goes to its token service there, never to
 * another site the registry names.
 */
function sameSite(a: URL, b: URL): boolean {
  if (a.hostname === b.hostname) return true;
  if (isIP(b.hostname.replace(/^\[|\]$/g, ''))) return false;
  const labels = b.hostname.split('.');
  const site = labels.length > 2 ? labels.slice(1).join('.') : b.hostname;
  return a.hostname === site || a.hostname.endsWith(`.${site}`);
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
      this.authorizations.set(key, await this.authorize(new URL(url), ref, parseChallenge(challenge.slice(0, 4096))));
      res = await send();
    }
    return res;
  }

  /**
   * The Authorization header a challenge asks for. A login is looked up by the host it is sent
   * to (a mirror gets its own login or none), reaches the registry's token service only on the
   * registry's site, and never crosses plain http; a token service on http is refused for an
   * https registry (no downgrade of the exchange).
   */
  private async authorize(url: URL, ref: ImageRef, challenge: { scheme: string; params: Record<string, string> }): Promise<string> {
    const loginFor = (target: URL) => (target.protocol === 'https:' ? this.options.credentials?.(target.host) : undefined);
    const basic = (c: Credentials | undefined) =>
      c ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` : undefined;
    if (challenge.scheme === 'basic') {
      if (url.protocol !== 'https:')
        throw new RegistryError(
          `${url.host} asks for a user name and password (Basic) over plain http; kubestrap sends logins over https only`,
        );
      const login = basic(loginFor(url));
      if (!login) throw new RegistryError(`${url.host} asks for a user name and password (Basic), and none is stored for ${url.host}`);
      return login;
    }
    if (challenge.scheme !== 'bearer' || !challenge.params.realm)
      throw new RegistryError(printable(`${ref.registry}: unsupported authentication challenge ${challenge.scheme.slice(0, 40)}`));
    let realm: URL;
    try {
      realm = new URL(challenge.params.realm);
    } catch {
      throw new RegistryError(
        printable(`${url.host}: its token service ${JSON.stringify(challenge.params.realm.slice(0, 200))} is not a URL`),
      );
    }
    if (realm.protocol !== 'https:' && (url.protocol === 'https:' || realm.protocol !== 'http:'))
      throw new RegistryError(
        printable(
          `${url.host} (https) names a token service on ${realm.protocol}//${realm.host}: refused (a token exchange is never downgraded from https)`,
        ),
      );
    // the registry's own token service (its host, or a sibling of it: auth.docker.io for registry-1.docker.io) acts for it
    const login = basic(loginFor(realm) ?? (sameSite(realm, url) ? loginFor(url) : undefined));
    const query = new URLSearchParams({
      ...(challenge.params.service ? { service: challenge.params.service } : {}),
      scope: challenge.params.scope ?? `repository:${ref.repository}:pull`,
    });
    const res = await fetch(`${realm.origin}${realm.pathname}?${query.toString()}`, {
      headers: login ? { authorization: login } : {},
      redirect: 'error',
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new RegistryError(
        `${ref.registry}: its token service ${realm.origin}${realm.pathname} answered HTTP ${res.status}${login ? ` (to the login stored for ${realm.host})` : ` (anonymous${realm.host !== url.host ? `: kubestrap sends a login only to the host it is stored for, and none is stored for ${realm.host}` : ''})`}`,
      );
    }
    let body: { token?: unknown; access_token?: unknown };
    try {
      body = JSON.parse((await boundedBody(res, MAX_DOCUMENT_BYTES, `${realm.host}: token`)).toString('utf8')) as typeof body;
    } catch (err) {
      throw err instanceof RegistryError ? err : new RegistryError(`${ref.registry}: its token service ${realm.host} answered no JSON`);
    }
    const token = body.token ?? body.access_token;
    if (typeof token !== 'string' || !/^[\x21-\x7e]{1,16384}$/.test(token))
      throw new RegistryError(`${ref.registry}: its token service ${realm.host} returned no usable token`);
    return `Bearer ${token}`;
  }

  /** A manifest's bytes by tag or digest, checked against the digest it was asked by and the one the registry names. */
  private async manifest(ref: ImageRef, reference: string): Promise<{ mediaType: string; bytes: Buffer; digest: string }> {
    const res = await this.get(ref, `manifests/${reference}`, { accept: ACCEPT });
    const name = `${ref.registry}/${ref.repository}:${reference}`;
    if (res.status === 404) throw new RegistryError(`${name}: not found in the registry (${this.base(ref.registry)})`);
    if (res.status === 401 || res.status === 403) {
      throw new RegistryError(
        `${name}: the registry refused access (HTTP ${res.status}); kubestrap reads registry logins from $REGISTRY_AUTH_FILE or ~/.docker/config.json (docker login, skopeo login)`,
      );
    }
    if (!res.ok) throw new RegistryError(`${name}: the registry answered HTTP ${res.status}`);
    const bytes = await boundedBody(res, MAX_DOCUMENT_BYTES, `${name}: manifest`);
    const digest = sha256Digest(bytes);
    const named = res.headers.get('docker-content-digest');
    if ((reference.startsWith('sha256:') && digest !== reference) || (named && named !== digest)) {
      throw new RegistryError(
        printable(
          `${name}: manifest digest mismatch (content is ${digest}, expected ${reference.startsWith('sha256:') ? reference : named!.slice(0, 100)})`,
        ),
      );
    }
    const mediaType =
      (res.headers.get('content-type') ?? '').split(';')[0]!.trim() || (stringField(parseJson(bytes, name), 'mediaType') ?? '');
    if (!Object.values(MEDIA_TYPES).includes(mediaType as never))
      throw new RegistryError(
        printable(
          `${name}: unsupported manifest type ${mediaType.slice(0, 100) || '(none)'} (kubestrap reads OCI and Docker schema 2 manifests)`,
        ),
      );
    return { mediaType, bytes, digest };
  }

  /** The image manifests of `ref` for each of `platforms`; a platform the image lacks is an error naming it. */
  async resolve(ref: ImageRef, platforms: readonly Platform[]): Promise<ResolvedImage> {
    const top = await this.manifest(ref, manifestReference(ref));
    const manifests = new Map<string, ImageManifest>();
    const name = `${ref.registry}/${ref.repository}:${manifestReference(ref)}`;
    if (isIndex(top.mediaType)) {
      const index = parseJson(top.bytes, name);
      if (!Array.isArray(index.manifests)) throw new RegistryError(`${name}: an image index without manifests`);
      const entries = index.manifests as Descriptor[];
      for (const platform of platforms) {
        const entry = entries.find(
          (m) =>
            m?.platform &&
            m.platform.os === platform.os &&
            m.platform.architecture === platform.architecture &&
            (!platform.variant || m.platform.variant === platform.variant),
        );
        if (!entry)
          throw new RegistryError(
            printable(
              `${name} has no ${platformName(platform)} image (it has ${entries
                .slice(0, 20)
                .map((m) => (m?.platform ? platformName(m.platform).slice(0, 60) : '?'))
                .join(', ')})`,
            ),
          );
        if (typeof entry.digest !== 'string' || !DIGEST.test(entry.digest))
          throw new RegistryError(
            printable(
              `${name}: the index's ${platformName(platform)} entry has digest ${JSON.stringify(entry.digest)?.slice(0, 100)}, not sha256:<64 hex>; refused`,
            ),
          );
        const child = await this.manifest(ref, entry.digest);
        manifests.set(platformName(platform), imageManifest(child, platform));
      }
    } else {
      const single = imageManifest(top, undefined);
      const config = parseJson(await this.blobBytes(ref, single.config), `${name}: configuration`);
      const variant = stringField(config, 'variant');
      const own: Platform = {
        os: stringField(config, 'os') ?? 'linux',
        architecture: stringField(config, 'architecture') ?? 'amd64',
        ...(variant ? { variant } : {}),
      };
      for (const platform of platforms) {
        if (own.os !== platform.os || own.architecture !== platform.architecture)
          throw new RegistryError(
            printable(`${name} has no ${platformName(platform)} image (it is a single ${platformName(own).slice(0, 100)} image)`),
          );
        manifests.set(platformName(platform), { ...single, descriptor: { ...single.descriptor, platform: own } });
      }
    }
    return { digest: top.digest, manifests };
  }

  /** A small blob (an image configuration) in memory, verified. */
  async blobBytes(ref: ImageRef, blob: Descriptor): Promise<Buffer> {
    if (blob.size > MAX_DOCUMENT_BYTES)
      throw new RegistryError(
        `${ref.registry}/${ref.repository}: configuration ${blob.digest} is ${blob.size} bytes; kubestrap reads at most ${MAX_DOCUMENT_BYTES}`,
      );
    const res = await this.get(ref, `blobs/${blob.digest}`);
    if (!res.ok) throw new RegistryError(`${ref.registry}/${ref.repository}: blob ${blob.digest}: HTTP ${res.status}`);
    const bytes = await boundedBody(res, blob.size, `${ref.registry}/${ref.repository}: blob ${blob.digest}`);
    if (sha256Digest(bytes) !== blob.digest)
      throw new RegistryError(
        `${ref.registry}/${ref.repository}: blob ${blob.digest}: digest mismatch (content is ${sha256Digest(bytes)})`,
      );
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
          if (res.status !== 200 && res.status !== 206)
            throw new RegistryError(`${ref.registry}/${ref.repository}: blob ${blob.digest}: HTTP ${res.status}`);
          if (res.status === 200) have = 0; // the registry ignored the range: start over
          const file = await open(partial, have > 0 ? 'a' : 'w');
          try {
            for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
              received += piece.length;
              have += piece.length;
              // never more than the descriptor's size on disk: a registry streaming on is cut off
              if (have > blob.size) {
                await res.body?.cancel().catch(() => undefined);
                rmSync(partial, { force: true });
                throw new RegistryError(
                  `${ref.registry}/${ref.repository}: blob ${blob.digest}: the registry sent more than its ${blob.size} bytes; refused`,
                );
              }
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
    const cause =
      lastError instanceof Error ? (lastError.cause instanceof Error ? lastError.cause.message : lastError.message) : String(lastError);
    throw new RegistryError(
      `${ref.registry}/${ref.repository}: blob ${blob.digest}: download failed ${this.attempts} times, last: ${cause}`,
    );
  }

  private async finish(ref: ImageRef, blob: Descriptor, partial: string, path: string): Promise<void> {
    const digest = await fileDigest(partial);
    if (digest !== blob.digest) {
      rmSync(partial, { force: true });
      throw new RegistryError(
        `${ref.registry}/${ref.repository}: blob ${blob.digest}: digest mismatch (downloaded content is ${digest}); refused`,
      );
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

/** A registry's JSON document: an object whose every field is unchecked. */
function parseJson(bytes: Buffer, what: string): Record<string, unknown> {
  try {
    const value = JSON.parse(bytes.toString('utf8')) as unknown;
    if (!value || typeof value !== 'object') throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch (err) {
    throw new RegistryError(printable(`${what}: not a JSON document (${(err as Error).message.slice(0, 100)})`));
  }
}

const stringField = (document: Record<string, unknown>, field: string): string | undefined => {
  const value = document[field];
  return typeof value === 'string' && value !== '' ? value : undefined;
};

/** An image manifest with its config and layers checked: their digests become cache paths and bundle entries. */
function imageManifest(m: { mediaType: string; bytes: Buffer; digest: string }, platform: Platform | undefined): ImageManifest {
  const body = parseJson(m.bytes, `manifest ${m.digest}`);
  if (!Array.isArray(body.layers)) throw new RegistryError(`manifest ${m.digest}: no layers; refused`);
  const config = checkedDescriptor(body.config, `manifest ${m.digest}: config`);
  const layers = body.layers.map((l, i) => checkedDescriptor(l, `manifest ${m.digest}: layers[${i}]`));
  return {
    descriptor: { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length, ...(platform ? { platform } : {}) },
    bytes: m.bytes,
    config,
    layers,
  };
}
