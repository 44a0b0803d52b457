import { Command, Option } from 'commander';
import { formatSummary } from '../workflow/report.js';
import { runInSession } from './run-phases.js';
import { addHostOptions, type HostOptions } from './session.js';

export function factsCommand(): Command {
  return addHostOptions(new Command('facts'))
    .description(
      'connect to every host and show what kubestrap detects: OS, package manager, init system, kernel, cgroups, resources, container',
    )
    .addOption(new Option('--format <format>', 'table or json').choices(['table', 'json']).default('table'))
    .addHelpText('after', '\nExample:\n  kubestrap facts -i cluster.yaml --format json')
    .action(async (options: HostOptions & { format: 'table' | 'json' }) => {
      const renderer = options.output === 'auto' ? 'silent' : options.output;
      process.exitCode = await runInSession('facts', options, [], 'plan', renderer, (result, session, print) => {
        const byName = new Map(result.connected.map((t) => [t.spec.name, t.facts]));
        const ordered = session.hosts.filter((h) => byName.has(h.name)).map((h) => ({ host: h.name, ...byName.get(h.name)! }));
        if (options.format === 'json') print(JSON.stringify(ordered, null, 2));
        for (const f of options.format === 'json' ? [] : ordered) {
          print(
            `${f.host}: ${f.os.prettyName} (${f.arch}), kernel ${f.kernel}, ${f.packageManager}/${f.initSystem}, cgroup v${f.cgroupVersion}, ${f.cpus} CPU, ${f.memoryMB} MB` +
              (f.container ? `, container: ${f.container}` : '') +
              (f.procSysWritable ? '' : ', kernel settings read-only'),
          );
        }
        if (!result.ok) console.error(formatSummary(result));
        return result.ok ? 0 : 1;
      });
    });
}
