/**
 * `kubestrap reset`: Kubernetes removed from the inventory's hosts (or --hosts), like
 * `kubeadm reset` plus what it leaves behind (CNI configuration and interfaces, kube-proxy and
 * CNI rules). Destructive, so it asks first (or takes --yes); --dry-run shows what would go.
 */
import { Command } from 'commander';
import { resetPhases } from '../../phases/index.js';
import { loadInventory } from '../inventory/load.js';
import { resolveHosts } from '../inventory/resolve.js';
import { confirmDestructive } from './prompt.js';
import { reportOutcome, runInSession } from './run-phases.js';
import { addHostOptions, type HostOptions } from './session.js';

interface ResetOptions extends HostOptions {
  yes?: boolean;
  dryRun?: boolean;
}

export function resetCommand(): Command {
  return addHostOptions(new Command('reset'))
    .description(
      'remove Kubernetes from hosts: etcd member, kubelet, containers, state, CNI configuration and interfaces, kube-proxy/CNI rules (host preparation stays)',
    )
    .option('--yes', 'do not ask for confirmation')
    .option('--dry-run', 'show what would be removed, change nothing')
    .addHelpText(
      'after',
      '\nExamples:\n  kubestrap reset -i cluster.yaml --hosts worker-3 --dry-run\n  kubestrap reset -i cluster.yaml --yes',
    )
    .action(async (options: ResetOptions) => {
      const { inventory } = await loadInventory(options.inventory);
      const names = options.hosts ? options.hosts.split(',').map((s) => s.trim()) : resolveHosts(inventory).map((h) => h.name);
      const agreed =
        options.dryRun ||
        (await confirmDestructive(
          `Remove Kubernetes (etcd data included) from ${names.join(', ')}?`,
          options.yes,
          'reset removes Kubernetes from the hosts',
        ));
      if (!agreed) {
        console.error('nothing was changed');
        process.exitCode = 1;
        return;
      }
      const mode = options.dryRun ? 'plan' : 'apply';
      process.exitCode = await runInSession('reset', options, resetPhases, mode, options.output, (result, session, print) =>
        reportOutcome(result, session, print),
      );
    });
}
