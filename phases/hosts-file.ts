/**
 * hosts-file: a managed block in /etc/hosts naming every node of the cluster, replaced in place
 * on re-runs (never duplicated); the rest of the file is left as it is.
 */
import type { Change, Phase } from '../src/workflow/phase.js';
import { applyFiles, planFiles, type FilePayload } from '../src/workflow/managed-files.js';
import { resolveHosts, type ResolvedHost } from '../src/inventory/resolve.js';

export const BLOCK_BEGIN = '# BEGIN kubestrap: cluster nodes (managed, edits are overwritten)';
export const BLOCK_END = '# END kubestrap';

export function renderBlock(hosts: readonly ResolvedHost[]): string {
  const lines = hosts
    .filter((h) => h.advertiseAddress)
    .map((h) => `${h.advertiseAddress}\t${[...new Set([h.nodeName, h.name])].join(' ')}`);
  return [BLOCK_BEGIN, ...lines, BLOCK_END].join('\n');
}

/** Replaces the managed block in `current`, or appends it. Pure, so it is unit-tested. */
export function withBlock(current: string, block: string): string {
  const start = current.indexOf(BLOCK_BEGIN);
  const end = current.indexOf(BLOCK_END, start);
  if (start >= 0 && end > start) return `${current.slice(0, start)}${block}${current.slice(end + BLOCK_END.length)}`;
  const base = current === '' || current.endsWith('\n') ? current : `${current}\n`;
  return `${base}${block}\n`;
}

export const hostsFilePhase: Phase<FilePayload> = {
  name: 'hosts-file',
  title: '/etc/hosts entries for every node',
  description: 'Keeps a managed block in /etc/hosts with the address and name of every cluster node.',
  selectHosts: (ctx) => (ctx.inventory.preparation.manageEtcHosts ? ctx.hosts : []),
  async plan(ctx, target) {
    const current = (await target.host.readFile('/etc/hosts'))?.toString('utf8') ?? '';
    // every node of the inventory, not only the hosts of this run (--hosts, unreachable ones)
    const block = renderBlock(resolveHosts(ctx.inventory));
    const changes: Change<FilePayload>[] = await planFiles(target.host, [{ path: '/etc/hosts', content: withBlock(current, block), mode: 0o644 }]);
    return { changes };
  },
  async apply(_ctx, target, changes) {
    await applyFiles(target.host, changes);
  },
};
