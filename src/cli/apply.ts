import { Command } from 'commander';
import { addPhaseOptions } from './plan.js';
import { runPhases, type PhaseOptions } from './run-phases.js';

export function applyCommand(): Command {
  return addPhaseOptions(new Command('apply'))
    .description('bring every host to the state the inventory describes; a second run changes nothing')
    .addHelpText(
      'after',
      '\nExamples:\n  kubestrap apply -i inventories/lab.yaml\n  kubestrap apply -i cluster.yaml --hosts worker-7 --skip kernel',
    )
    .action(async (options: PhaseOptions) => {
      process.exitCode = await runPhases('apply', options);
    });
}
