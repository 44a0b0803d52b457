/**
 * `kubestrap remove-node NAME`: a node leaves the cluster for good — drained (through another
 * control plane's API), reset (a control plane's etcd member removed first, by reset itself),
 * and its Node deleted. The inventory still lists the host: remove it there, or the next apply
 * joins it again.
 */
import { Command } from 'commander';
import { removeNodePhases } from '../../phases/index.js';
import { loadInventory } from '../inventory/load.js';
import { isControlPlane, resolveHosts } from '../inventory/resolve.js';
import { UsageError } from './errors.js';
import { confirmDestructive } from './prompt.js';
import { reportOutcome, runInSession } from './run-phases.js';
import { addHostOptions, type HostOptions } from './session.js';

interface RemoveOptions extends Omit<HostOptions, 'hosts'> {
  yes?: boolean;
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
      if (
        !(await confirmDestructive(
          `Drain ${host.nodeName}, reset ${host.name} and delete its Node?`,
          options.yes,
          `remove-node drains and resets ${name}`,
        ))
      )
        return void (process.exitCode = 1);
      const phases = removeNodePhases({ host: host.name, node: host.nodeName, apiHost: apiHost.name });
      process.exitCode = await runInSession(
        'remove-node',
        { ...options, hosts: `${host.name},${apiHost.name}` },
        phases,
        'apply',
        options.output,
        (result, session, print) =>
          reportOutcome(
            result,
            session,
            print,
            `${host.nodeName} has left the cluster. Remove ${host.name} from ${options.inventory}, or the next apply joins it again.`,
          ),
      );
    });
}
