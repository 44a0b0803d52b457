import { Command, Option } from 'commander';
import { doctorPhases } from '../../phases/index.js';
import { CHECK_GROUPS, doctorJson, exitCode, formatDoctor, type CheckGroup, type DoctorRun, type Finding } from '../doctor/finding.js';
import { printable } from '../log/redact.js';
import { quote } from '../transport/quote.js';
import { commaList } from '../util/comma-list.js';
import { UsageError } from './errors.js';
import { runInSession } from './run-phases.js';
import { addHostOptions, type HostOptions } from './session.js';

interface DoctorOptions extends Omit<HostOptions, 'output'> {
  output: 'text' | 'json';
  only?: string;
  skip?: string;
}

/** The check groups --only and --skip leave, in their order; an unknown name is a usage error. */
function chosenGroups(only: readonly string[], skip: readonly string[]): CheckGroup[] {
  for (const [flag, names] of [
    ['--only', only],
    ['--skip', skip],
  ] as const) {
    const unknown = names.filter((n) => !(CHECK_GROUPS as readonly string[]).includes(n));
    if (unknown.length)
      throw new UsageError(`${flag}: unknown check group ${unknown.join(', ')}; the groups are ${CHECK_GROUPS.join(', ')}`);
  }
  return CHECK_GROUPS.filter((g) => (only.length === 0 || only.includes(g)) && !skip.includes(g));
}

/** A host that could not be reached or examined at all, as a finding: the rest of the report stands. */
function outcomeFinding(name: string, status: string, error: string | undefined, kubestrap: DoctorRun['kubestrap']): Finding {
  return {
    severity: 'error',
    group: 'hosts',
    subject: name,
    problem: `${status === 'unreachable' ? 'unreachable' : 'not examined'}: ${printable(error ?? 'no reason given')}`,
    why: 'nothing on this host was examined; a node down is also a control plane or worker fewer',
    fix: `check that it runs and answers SSH, then ${kubestrap(`facts --hosts ${name}`)}`,
  };
}

export function doctorCommand(): Command {
  return addHostOptions(new Command('doctor'), { withoutProgress: true })
    .description(
      'examine a running cluster, changing nothing: hosts, certificates, etcd and the cluster through its API; each finding with why it matters and the command that fixes it. Exit code 0 healthy, 1 warnings, 2 errors',
    )
    .option('--only <groups>', `only these check groups (comma-separated: ${CHECK_GROUPS.join(', ')})`)
    .option('--skip <groups>', 'all check groups but these')
    .addOption(new Option('--output <format>', 'text, or json (docs/doctor.md)').choices(['text', 'json']).default('text'))
    .addHelpText(
      'after',
      '\nExamples:\n  kubestrap doctor -i cluster.yaml\n  kubestrap doctor -i cluster.yaml --only certificates,etcd --output json',
    )
    .action(async (options: DoctorOptions) => {
      const groups = chosenGroups(commaList(options.only), commaList(options.skip));
      const run: DoctorRun = { findings: [], kubestrap: (args) => `kubestrap ${args} -i ${quote(options.inventory)}` };
      process.exitCode = await runInSession(
        'doctor',
        { ...options, output: 'silent' },
        doctorPhases(run, groups),
        'plan',
        'silent',
        (result, _session, print) => {
          const findings = [
            ...result.outcomes.filter((o) => o.status !== 'ok').map((o) => outcomeFinding(o.name, o.status, o.error, run.kubestrap)),
            ...run.findings,
          ];
          const examined = `${result.outcomes.length} host${result.outcomes.length === 1 ? '' : 's'}; checks: ${groups.join(', ')}`;
          print(options.output === 'json' ? JSON.stringify(doctorJson(findings, examined), null, 2) : formatDoctor(findings, examined));
          return exitCode(findings);
        },
      );
    });
}
