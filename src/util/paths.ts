import { homedir } from 'node:os';
import { join } from 'node:path';

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
