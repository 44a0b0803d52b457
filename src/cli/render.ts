import { Command } from 'commander';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { inside } from '../util/paths.js';
import { loadInventory } from '../inventory/load.js';
import { renderCluster } from '../render/render.js';

export function renderCommand(): Command {
  return new Command('render')
    .description('write every file apply would place on each node and every API object it would create, touching no host')
    .requiredOption('-i, --inventory <file>', 'inventory file')
    .requiredOption(
      '--out <dir>',
      'output directory (<node>/etc/..., <node>/var/lib/kubelet/..., cluster/*.yaml); an existing PKI there is reused',
    )
    .addHelpText('after', '\nExample:\n  kubestrap render -i inventories/1cp-2workers.yaml --out ./rendered')
    .action(async (options: { inventory: string; out: string }) => {
      const loaded = await loadInventory(options.inventory, { checkKeyFiles: false });
      let files;
      try {
        files = await renderCluster(loaded.inventory, options.out);
      } catch (err) {
        // something in the inventory's world is missing (e.g. a local Calico manifest): say what
        console.error(`error: ${(err as Error).message}`);
        process.exitCode = 1;
        return;
      }
      for (const file of files) {
        const target = inside(options.out, file.path);
        mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
        writeFileSync(target, file.content, { mode: file.mode });
        chmodSync(target, file.mode);
      }
      console.log(
        `wrote ${files.length} files to ${options.out} (host names assumed equal to node names; no optional CA directories; kernel 4.19+)`,
      );
    });
}
