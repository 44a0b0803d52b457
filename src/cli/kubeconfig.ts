/**
 * `kubestrap kubeconfig -i FILE [--merge] [--context NAME]`: the admin kubeconfig `apply` saved
 * for the inventory's cluster, printed, or merged into the kubectl configuration (the first
 * file of $KUBECONFIG, else ~/.kube/config) with a backup of what was there — the way k0sctl and
 * k3sup users get theirs.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { Command } from 'commander';
import { savedClusterFiles } from '../../phases/admin-kubeconfig.js';
import { loadInventory } from '../inventory/load.js';
import { mergeKubeconfig, renameContext } from '../pki/kubeconfig.js';
import { writeLocalFile } from '../util/local-file.js';
import { UsageError } from './errors.js';
import { addInventoryOption } from './session.js';

/** Where kubectl reads its configuration from, and so where a merge goes. */
function kubectlConfigPath(): string {
  const first = process.env.KUBECONFIG?.split(delimiter).find(Boolean);
  return first ?? join(homedir(), '.kube', 'config');
}

export function kubeconfigCommand(): Command {
  return addInventoryOption(new Command('kubeconfig'))
    .description("print the cluster's admin kubeconfig saved by apply, or merge it into kubectl's configuration")
    .option('--merge', 'merge into the first file of $KUBECONFIG, else ~/.kube/config (kept 0600, the previous file backed up beside it)')
    .option('--context <name>', 'name of the context (default: the saved one, <cluster>-admin@<endpoint>)')
    .addHelpText(
      'after',
      '\nExamples:\n  kubestrap kubeconfig -i cluster.yaml > admin.conf\n  kubestrap kubeconfig -i cluster.yaml --merge --context prod\n  kubectl --context prod get nodes',
    )
    .action(async (options: { inventory: string; merge?: boolean; context?: string }) => {
      const inv = (await loadInventory(options.inventory)).inventory;
      const saved = savedClusterFiles(inv);
      if (!existsSync(saved.admin))
        throw new UsageError(
          `no admin kubeconfig saved for cluster ${inv.cluster.name} (${saved.admin}): kubestrap apply -i ${options.inventory} saves it once the control plane is up`,
        );
      const kubeconfig = options.context
        ? renameContext(readFileSync(saved.admin, 'utf8'), options.context)
        : readFileSync(saved.admin, 'utf8');
      const context = options.context ?? saved.context;
      if (!options.merge) return void process.stdout.write(kubeconfig);
      const target = kubectlConfigPath();
      const existing = existsSync(target) ? readFileSync(target, 'utf8') : undefined;
      mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
      const backup = `${target}.kubestrap-backup-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      // the backup holds credentials as the original does: 0600 whatever the original's mode
      if (existing !== undefined) writeLocalFile(backup, readFileSync(target), 0o600);
      writeLocalFile(target, mergeKubeconfig(existing, kubeconfig), 0o600);
      console.log(
        `context ${context} merged into ${target}${existing !== undefined ? ` (previous file kept as ${backup})` : ''}\n  kubectl --context ${context} get nodes`,
      );
    });
}
