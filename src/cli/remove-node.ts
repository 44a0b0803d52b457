/**
 * `kubestrap remove-node NAME`: a node leaves the cluster for good — drained (through another
 * control plane's API), reset (a control plane's etcd member removed first, by reset itself),
 * and its Node deleted. The inventory still lists the host: remove it there, or the next apply
 * joins it again.
 */
import { Command } from 'commander';
import { requireApi } from '../kube/admin-api.js';
import type { ApiClient } from '../kube/api-client.js';
import { resetPhase } from '../../phases/reset.js';
import { loadInventory } from '../inventory/load.js';
import { isControlPlane, resolveHosts } from '../inventory/resolve.js';
import { drainNode } from '../kube/drain.js';
import type { HostTarget, Phase, PhaseContext } from '../workflow/phase.js';
import { UsageError } from './errors.js';
import { confirmDestructive } from './prompt.js';
import { reportOutcome, runInSession } from './run-phases.js';
import { addHostOptions, type HostOptions } from './session.js';

interface RemoveOptions extends Omit<HostOptions, 'hosts'> {
  yes?: boolean;
}

function through(ctx: PhaseContext, name: string): HostTarget {
  const target = ctx.hosts.find((h) => h.spec.name === name);
  if (!target) throw new Error(`${name} (the control plane whose API removes the node) did not connect`);
  return target;
}

function onCluster<T>(ctx: PhaseContext, apiHost: string, use: (api: ApiClient) => Promise<T>): Promise<T> {
  return requireApi(through(ctx, apiHost), 'the node is removed through its API', use);
}

function removalPhases(host: string, node: string, apiHost: string): Phase[] {
  const only = (ctx: PhaseContext) => ctx.hosts.filter((h) => h.spec.name === host);
  const drain: Phase<null> = {
    name: 'drain',
    title: `${node} cordoned and drained`,
    description: 'Cordons the node and evicts its pods (DaemonSet and static pods stay).',
    selectHosts: only,
    plan: async (ctx) => {
      const live = await onCluster(ctx, apiHost, (api) => api.get({ apiVersion: 'v1', kind: 'Node', name: node }));
      return { changes: live ? [{ target: `Node ${node}`, summary: 'cordon and drain (evict its pods)', payload: null }] : [] };
    },
    apply: async (ctx, target) => {
      await onCluster(ctx, apiHost, (api) => drainNode(api, node, (line) => ctx.progress(target.spec.name, `drain: ${line}`)));
    },
  };
  const remove: Phase<null> = {
    name: 'delete-node',
    title: `Node ${node} deleted`,
    description: 'Deletes the Node object once the host is reset.',
    selectHosts: only,
    plan: async (ctx) => {
      const live = await onCluster(ctx, apiHost, (api) => api.get({ apiVersion: 'v1', kind: 'Node', name: node }));
      return { changes: live ? [{ target: `Node ${node}`, summary: 'delete', payload: null }] : [] };
    },
    apply: async (ctx) => {
      await onCluster(ctx, apiHost, (api) => api.delete({ apiVersion: 'v1', kind: 'Node', name: node }));
    },
  };
  return [drain as Phase, resetPhase(only) as Phase, remove as Phase];
}

export function removeNodeCommand(): Command {
  return addHostOptions(new Command('remove-node'))
    .description('drain a node, reset its host (removing its etcd member first for a control plane) and delete its Node')
    .argument('<name>', 'the inventory host (or its node name)')
    .option('--yes', 'do not ask for confirmation')
    .addHelpText('after', '\nExample:\n  kubestrap remove-node worker-7 -i cluster.yaml\n  (then delete worker-7 from the inventory)')
    .action(async (name: string, options: RemoveOptions) => {
      const { inventory } = await loadInventory(options.inventory);
      const hosts = resolveHosts(inventory);
      const host = hosts.find((h) => h.name === name || h.nodeName === name);
      if (!host) throw new UsageError(`no host or node named ${name} in ${options.inventory}`);
      const apiHost = hosts.find((h) => isControlPlane(h) && h !== host);
      if (!apiHost) throw new UsageError(`${name} is the only control plane: use kubestrap reset to take the whole cluster down`);
      if (!(await confirmDestructive(`Drain ${host.nodeName}, reset ${host.name} and delete its Node?`, options.yes, `remove-node drains and resets ${name}`))) return void (process.exitCode = 1);
      const phases = removalPhases(host.name, host.nodeName, apiHost.name);
      process.exitCode = await runInSession('remove-node', { ...options, hosts: `${host.name},${apiHost.name}` }, phases, 'apply', options.output, (result, session, print) =>
        reportOutcome(result, session, print, `${host.nodeName} has left the cluster. Remove ${host.name} from ${options.inventory}, or the next apply joins it again.`));
    });
}
