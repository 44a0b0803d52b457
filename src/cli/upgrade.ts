/**
 * `kubestrap upgrade plan|apply -i FILE`: the cluster brought to the inventory's version and
 * settings — control planes one at a time, then workers at most --max-unavailable at a time,
 * drained and uncordoned. The version rules are checked against what the cluster reports before
 * any host is touched; the same version with changed settings is a configuration roll.
 */
import { Command } from 'commander';
import { recoveryPhases, upgradePhases } from '../../phases/index.js';
import { loadInventory } from '../inventory/load.js';
import type { Inventory } from '../inventory/schema.js';
import { readClusterVersions } from '../upgrade/cluster-versions.js';
import { decideUpgrade, type ClusterVersions, type UpgradeKind } from '../upgrade/version-policy.js';
import { parseVersion, type KubeVersion } from '../util/version.js';
import { formatPlan, formatSummary } from '../workflow/report.js';
import { withControlPlane } from './cluster-access.js';
import { UsageError } from './errors.js';
import { confirmDestructive } from './prompt.js';
import { reportOutcome, runInSession } from './run-phases.js';
import { addHostOptions, type HostOptions } from './session.js';
import { coreDnsImage, etcdImageTag } from '../../templates/versions.js';
import { hopMigrations } from '../upgrade/migrations.js';

interface UpgradeOptions extends HostOptions {
  maxUnavailable: string;
  yes?: boolean;
  diff?: boolean;
}

const KIND_TEXT: Record<UpgradeKind, string> = {
  configuration: "configuration roll: same version, the inventory's settings",
  patch: 'patch upgrade',
  minor: 'minor upgrade',
};

/** The version table `upgrade plan` and `upgrade apply` print first. */
export function formatVersions(inv: Inventory, current: ClusterVersions, target: KubeVersion): string {
  const byVersion = new Map<string, number>();
  for (const v of current.kubelets.values()) byVersion.set(v.text, (byVersion.get(v.text) ?? 0) + 1);
  const rows: Array<[string, string, string]> = [
    ['COMPONENT', 'CURRENT', 'TARGET'],
    ['control plane', current.controlPlane.text, target.text],
    ...[...byVersion].map(([v, n], i): [string, string, string] => [i === 0 ? 'kubelet' : '', `${n} × ${v}`, target.text]),
    inv.cluster.etcd.external
      ? ['etcd', 'external', 'not upgraded by kubestrap']
      : ['etcd image', '', etcdImageTag(target, inv.cluster.etcd.imageTag)],
    ['CoreDNS image', '', coreDnsImage(inv.cluster.imageRepository, target.minor)],
  ];
  const width = (i: number) => Math.max(...rows.map((r) => r[i]!.length));
  return rows.map((r) => `${r[0].padEnd(width(0))}  ${r[1].padEnd(width(1))}  ${r[2]}`.trimEnd()).join('\n');
}

function maxUnavailable(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`--max-unavailable: expected a whole number of workers, 1 or more (got ${JSON.stringify(text)})`);
  return n;
}

async function upgrade(mode: 'plan' | 'apply', options: UpgradeOptions): Promise<number> {
  const batch = maxUnavailable(options.maxUnavailable);
  const { inventory } = await loadInventory(options.inventory);
  const target = parseVersion(inventory.cluster.kubernetesVersion)!;
  // --log-file is the upgrade's own record: the sessions before it (recovery, reading the
  // versions) keep their logs where every command keeps them
  const { logFile, ...access } = options;
  if (mode === 'apply') {
    // an API server an interrupted run set aside comes back first: the versions are read through it
    const recovered = await runInSession('upgrade-recover', access, recoveryPhases, 'apply', 'silent', (result) => {
      if (!result.ok) console.error(formatSummary(result));
      return result.ok ? 0 : 1;
    });
    if (recovered) return recovered;
  }
  const current = await withControlPlane('upgrade-versions', access, ({ api }) => readClusterVersions(api));
  // an external etcd is its operator's to upgrade: no hop of it to check here
  const decision = decideUpgrade(
    current,
    target,
    inventory.cluster.etcd.external ? undefined : etcdImageTag(target, inventory.cluster.etcd.imageTag),
  );
  console.log(formatVersions(inventory, current, target));
  if (!decision.ok) {
    console.error(
      `\nkubestrap will not upgrade this cluster to ${target.text}:\n${decision.problems.map((p) => `  - ${p}`).join('\n')}\nnothing was changed`,
    );
    return 2;
  }
  console.log(`\n${current.controlPlane.text} → ${target.text}: ${KIND_TEXT[decision.kind]}\n`);
  const migrations = hopMigrations(current.controlPlane, target);
  if (migrations.length) console.log(`migrations of this hop:\n${migrations.map((m) => `  - ${m}`).join('\n')}\n`);
  if (
    mode === 'apply' &&
    !(await confirmDestructive(
      `Upgrade the cluster to ${target.text} (control planes one at a time, then workers ${batch} at a time)?`,
      options.yes,
      'upgrade apply restarts the components of every node',
    ))
  ) {
    console.error('nothing was changed');
    return 1;
  }
  return runInSession(`upgrade-${mode}`, options, upgradePhases(batch), mode, options.output, (result, session, print) => {
    if (mode === 'plan') {
      print(formatPlan(result, options.diff ?? false));
      if (!result.ok) print(formatSummary(result));
      return result.ok ? 0 : 1;
    }
    return reportOutcome(result, session, print, `the cluster runs ${target.text} with the inventory's settings`);
  });
}

/** `upgrade plan` and `upgrade apply`: the same options, the mode's own flag and examples. */
function modeCommand(mode: 'plan' | 'apply', description: string, flag: [string, string], examples: string): Command {
  return addHostOptions(new Command(mode))
    .description(description)
    .option('--max-unavailable <n>', 'workers drained at once', '1')
    .option(...flag)
    .addHelpText('after', `\nExamples:\n${examples}`)
    .action(async (options: UpgradeOptions) => {
      process.exitCode = await upgrade(mode, options);
    });
}

export function upgradeCommand(): Command {
  return new Command('upgrade')
    .description("bring a running cluster to the inventory's Kubernetes version and settings, one node at a time")
    .addCommand(
      modeCommand(
        'plan',
        'show the versions, the rules checked and what each node would change; changes nothing',
        ['--diff', 'show file differences'],
        '  kubestrap upgrade plan -i cluster.yaml\n  kubestrap upgrade plan -i cluster.yaml --diff --hosts cp-2',
      ),
    )
    .addCommand(
      modeCommand(
        'apply',
        'upgrade: control planes one at a time (API live before the next), cluster objects, then workers drained at most --max-unavailable at a time',
        ['--yes', 'do not ask for confirmation'],
        '  kubestrap upgrade apply -i cluster.yaml\n  kubestrap upgrade apply -i cluster.yaml --yes --max-unavailable 3\n(after raising cluster.kubernetesVersion by at most one minor, or changing settings, in the inventory)',
      ),
    );
}
