/**
 * hosts-file: a managed block in /etc/hosts naming the control planes and the node itself,
 * replaced in place on re-runs (never duplicated); the rest of the file is left as it is.
 * Workers are not listed on other nodes: the API server reaches kubelets by their InternalIP,
 * and adding a worker to the inventory must not touch every other host of a large cluster.
 */
import type { Change, Phase } from '../src/kit/phase.js';
import { applyFiles, planFiles, type FilePayload } from '../src/kit/managed-files.js';
import { isControlPlane, resolveHosts, type ResolvedHost } from '../src/inventory/resolve.js';
import type { Inventory } from '../src/inventory/schema.js';

export const BLOCK_BEGIN = '# BEGIN kubestrap: cluster nodes (managed, edits are overwritten)';
export const BLOCK_END = '# END kubestrap';

/** `endpoint`: the node-local API name and the address it stands for on this node. */
export function renderBlock(hosts: readonly ResolvedHost[], endpoint?: { readonly name: string; readonly address: string }): string {
  const lines = hosts
    .filter((h) => h.advertiseAddress)
    .map((h) => `${h.advertiseAddress}\t${[...new Set([h.nodeName, h.name])].join(' ')}`);
  return [BLOCK_BEGIN, ...lines, ...(endpoint ? [`${endpoint.address}\t${endpoint.name}`] : []), BLOCK_END].join('\n');
}

/**
 * In node-local mode the API name means "this node's API server" on a control plane and "the
 * balancer on loopback" on a worker: each node reaches a live API server without a VIP.
 */
function nodeLocalEndpoint(inv: Inventory, host: ResolvedHost): { name: string; address: string } | undefined {
  const lb = inv.cluster.apiLoadBalancer;
  if (lb.mode !== 'node-local') return undefined;
  return { name: lb.domain, address: isControlPlane(host) ? host.advertiseAddress! : '127.0.0.1' };
}

/** The block one node gets; from the inventory, not only the hosts of this run (--hosts, unreachable ones). */
export function blockFor(inv: Inventory, node: ResolvedHost): string {
  const named = resolveHosts(inv).filter((h) => isControlPlane(h) || h.name === node.name);
  return renderBlock(named, nodeLocalEndpoint(inv, node));
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
  title: '/etc/hosts entries for the control planes and the node itself',
  description: 'Keeps a managed block in /etc/hosts with the address and name of every control plane and of the node itself.',
  // node-local mode relies on the block for the API name
  selectHosts: (ctx) =>
    ctx.inventory.preparation.manageEtcHosts || ctx.inventory.cluster.apiLoadBalancer.mode === 'node-local' ? ctx.hosts : [],
  async plan(ctx, target) {
    const current = (await target.host.readFile('/etc/hosts'))?.toString('utf8') ?? '';
    const block = blockFor(ctx.inventory, target.spec);
    const changes: Change<FilePayload>[] = await planFiles(target.host, [
      { path: '/etc/hosts', content: withBlock(current, block), mode: 0o644 },
    ]);
    return { changes };
  },
  async apply(_ctx, target, changes) {
    await applyFiles(target.host, changes);
  },
};
