/**
 * Registry credentials as docker, podman, skopeo and crane keep them: the `auths` of
 * $REGISTRY_AUTH_FILE, else ~/.docker/config.json (`auth` is base64 of user:password). Read,
 * never written, never logged; passed only to the registry's own token service or as Basic.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Credentials } from './registry-client.js';

function authFile(): string {
  return process.env.REGISTRY_AUTH_FILE ?? join(homedir(), '.docker', 'config.json');
}

/** The credentials for `registry` in the auth file, if it has any. */
export function registryCredentials(registry: string, file = authFile()): Credentials | undefined {
  if (!existsSync(file)) return undefined;
  let auths: Record<string, { auth?: string }>;
  try {
    auths = (JSON.parse(readFileSync(file, 'utf8')) as { auths?: Record<string, { auth?: string }> }).auths ?? {};
  } catch (err) {
    throw new Error(`${file}: not JSON (${(err as Error).message})`);
  }
  // docker writes Docker Hub's entry under its old index URL
  const entry = auths[registry] ?? auths[`https://${registry}`] ?? (registry === 'docker.io' ? auths['https://index.docker.io/v1/'] : undefined);
  if (!entry?.auth) return undefined;
  const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new Error(`${file}: the auth of ${registry} is not base64 of user:password`);
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
