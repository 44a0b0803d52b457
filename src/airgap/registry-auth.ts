/**
 * Registry credentials as docker, podman, skopeo and crane keep them: the `auths` of
 * $REGISTRY_AUTH_FILE, else ~/.docker/config.json (`auth` is base64 of user:password). Read,
 * never written, never logged; looked up by the host a request goes to, so a login reaches
 * only the host it was stored for (a mirror serving a registry's images gets its own or none).
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Credentials } from './registry-client.js';
import { messageOf } from '../util/errors.js';

function authFile(): string {
  return process.env.REGISTRY_AUTH_FILE ?? join(homedir(), '.docker', 'config.json');
}

/** Docker Hub's hosts: docker login stores one login for all of them (its API, its token service, its index). */
const DOCKER_HUB_HOSTS = new Set(['docker.io', 'registry-1.docker.io', 'auth.docker.io', 'index.docker.io']);

/** The credentials stored for `host` (host[:port], the host a request goes to) in the auth file, if it has any. */
export function registryCredentials(host: string, file = authFile()): Credentials | undefined {
  const registry = DOCKER_HUB_HOSTS.has(host) ? 'docker.io' : host;
  if (!existsSync(file)) return undefined;
  let auths: Record<string, { auth?: string }>;
  try {
    auths = (JSON.parse(readFileSync(file, 'utf8')) as { auths?: Record<string, { auth?: string }> }).auths ?? {};
  } catch (err) {
    throw new Error(`${file}: not JSON (${messageOf(err)})`, { cause: err });
  }
  // docker writes Docker Hub's entry under its old index URL
  const entry =
    auths[registry] ?? auths[`https://${registry}`] ?? (registry === 'docker.io' ? auths['https://index.docker.io/v1/'] : undefined);
  if (!entry?.auth) return undefined;
  const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new Error(`${file}: the auth of ${registry} is not base64 of user:password`);
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
