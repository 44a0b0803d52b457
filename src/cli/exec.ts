import { Command } from 'commander';
import { formatSummary } from '../workflow/report.js';
import { execPhase, type CommandOutput } from '../../phases/exec.js';
import { quoteArgv } from '../transport/quote.js';
import { runInSession } from './run-phases.js';
import { addHostOptions, type HostOptions } from './session.js';

interface ExecOptions extends HostOptions {
  asLoginUser?: boolean;
}

export function execCommand(): Command {
  return addHostOptions(new Command('exec'))
    .description('run a shell command on every host (as root, through sudo where configured) and show each output')
    .argument('<command...>', 'command and arguments (put -- before it)')
    .option('--as-login-user', 'run as the SSH login user instead of root')
    .addHelpText('after', '\nExample:\n  kubestrap exec -i cluster.yaml --hosts cp-1,cp-2 -- systemctl is-active kubelet')
    .action(async (argv: string[], options: ExecOptions) => {
      const script = argv.length === 1 ? argv[0]! : quoteArgv(argv);
      const outputs = new Map<string, CommandOutput>();
      const phase = execPhase(script, options.asLoginUser ?? false, outputs);
      process.exitCode = await runInSession(
        'exec',
        options,
        [phase],
        'apply',
        options.output === 'auto' ? 'silent' : options.output,
        (result, session, print) => {
          for (const host of session.hosts) {
            const out = outputs.get(host.name);
            if (!out) continue;
            if (out.stdout) for (const line of out.stdout.replace(/\n$/, '').split('\n')) print(`${host.name}: ${line}`);
            if (out.stderr) for (const line of out.stderr.replace(/\n$/, '').split('\n')) console.error(`${host.name}! ${line}`);
          }
          console.error(formatSummary(result));
          return result.ok ? 0 : 1;
        },
      );
    });
}
