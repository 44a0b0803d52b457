/**
 * Image references as containerd and the kubelet read them: `[registry/]repository[:tag][@digest]`,
 * Docker Hub when the first part is not a host (no dot, colon or `localhost`), `library/` for its
 * one-part names. The inventory's names stay as written; this is what a registry is asked for.
 */
export interface ImageRef {
  /** Host[:port] of the registry (`docker.io` for Docker Hub). */
  readonly registry: string;
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const TAG = /^[\w][\w.-]{0,127}$/;
/** host[:port] as a registry is named (it becomes a certs.d directory name: never `..` or a slash). */
const REGISTRY = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::\d{1,5})?$/i;
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

export function parseImageRef(text: string): ImageRef {
  const [nameAndTag, digest, extra] = text.split('@');
  if (extra !== undefined || (digest !== undefined && !DIGEST.test(digest)))
    throw new Error(`${text}: not an image reference (bad digest)`);
  const slash = nameAndTag!.indexOf('/');
  const first = slash < 0 ? '' : nameAndTag!.slice(0, slash);
  const isHost = first.includes('.') || first.includes(':') || first === 'localhost';
  const registry = isHost ? first : 'docker.io';
  if (!REGISTRY.test(registry)) throw new Error(`${text}: not an image reference (bad registry ${registry})`);
  let rest = isHost ? nameAndTag!.slice(slash + 1) : nameAndTag!;
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const repository = registry === 'docker.io' && !rest.includes('/') ? `library/${rest}` : rest;
  if (!REPOSITORY.test(repository)) throw new Error(`${text}: not an image reference (bad repository ${repository})`);
  if (tag !== undefined && !TAG.test(tag)) throw new Error(`${text}: not an image reference (bad tag ${tag})`);
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** The tag or digest the registry's manifest endpoint is asked for (a digest wins). */
export const manifestReference = (ref: ImageRef) => ref.digest ?? ref.tag!;
