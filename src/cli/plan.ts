import { Command } from 'commander';
import { runPhases, type PhaseOptions } from './run-phases.js';
import { addHostOptions } from './session.js';

export function addPhaseOptions(cmd: Command): Command {
  return addHostOptions(cmd)
    .option('--ignore-preflight-errors <checks>', 'preflight checks whose errors become warnings (comma-separated names, or all)')
    .option('--only <phases>', 'run only these phases (comma-separated)')
    .option('--skip <phases>', 'skip these phases (comma-separated)')
    .option('--report <file>', 'also write the per-host result as JSON to this file')
    .option('--bundle <file>', 'air-gap bundle to take images, packages and the CNI manifest from (instead of cluster.airgap.bundle)')
    .option(
      '--wait-addons [duration]',
      'wait until every add-on is Ready, at most this long (default 5m), and fail naming what is not (instead of cluster.addons.waitReady)',
    );
}

export function planCommand(): Command {
  return addPhaseOptions(new Command('plan'))
    .description('show what apply would change on every host, changing nothing')
    .option('--diff', 'show file diffs')
    .addHelpText('after', '\nExample:\n  kubestrap plan -i inventories/lab.yaml --diff')
    .action(async (options: PhaseOptions) => {
      process.exitCode = await runPhases('plan', options);
    });
}
