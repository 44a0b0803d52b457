import { homedir } from 'node:os';
import { join, relative, resolve, isAbsolute } from 'node:path';

/** Expands a leading `~` the way a shell would, for paths written in inventories and flags. */
export function expandHome(path: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return join(homedir(), path.slice(2));
  return path;
}

/** kubestrap's own state directory on the workstation (logs, saved kubeconfigs). */
export function stateDir(): string {
  return process.env.KUBESTRAP_HOME ?? join(homedir(), '.kubestrap');
}

/** `path` (built from input) below `dir`, or an error: such a path never leaves its directory. */
export function inside(dir: string, path: string): string {
  const target = resolve(dir, path.replace(/^\/+/, ''));
  const rel = relative(resolve(dir), target);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw new Error(`${JSON.stringify(path)} would be written outside ${dir}`);
  return target;
}
