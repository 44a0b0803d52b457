import { Command } from 'commander';
import { loadInventory } from '../inventory/load.js';
import { resolveHosts } from '../inventory/resolve.js';
import { addInventoryOption } from './session.js';

export function validateCommand(): Command {
  return addInventoryOption(new Command('validate'))
    .description('check an inventory file without contacting any host; lists every problem with file:line:column and field')
    .addHelpText('after', '\nExample:\n  kubestrap validate -i inventories/1cp-2workers.yaml')
    .action(async (options: { inventory: string }) => {
      const loaded = await loadInventory(options.inventory);
      const hosts = resolveHosts(loaded.inventory);
      const cps = hosts.filter((h) => h.roles.includes('control-plane')).length;
      console.log(
        `${loaded.file}: valid — cluster ${loaded.inventory.cluster.name}, Kubernetes ${loaded.inventory.cluster.kubernetesVersion}, ${hosts.length} hosts (${cps} control plane${cps === 1 ? '' : 's'})`,
      );
    });
}
