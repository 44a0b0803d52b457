/**
 * Runs phases across hosts: connect and probe every host, then each phase in order, hosts in
 * parallel up to a limit. A host that fails drops out of later phases; the others go on. The
 * result holds one outcome per host, so the caller can print a summary and exit non-zero.
 */
import { Listr, PRESET_TIMER, type ListrTask } from 'listr2';
import type { OpenBundle } from '../airgap/bundle.js';
import type { Inventory } from '../inventory/schema.js';
import type { ResolvedHost } from '../inventory/resolve.js';
import type { RunLog } from '../log/run-log.js';
import type { ConnectTarget } from '../transport/credentials.js';
import { connectTarget, type ConnectOptions } from './connect.js';
import { applyIgnores, evaluate, mirrorUrls, type Observed, type PreflightFinding } from '../preflight/checks.js';
import { gatherSnapshot } from '../preflight/gather.js';
import { mapLimit } from '../util/concurrency.js';
import type { Change, HostTarget, Phase, PhaseContext, PhasePlan } from './phase.js';
import { readAhead, type HostPlans } from './read-ahead.js';

export type Mode = 'plan' | 'apply';
export type RendererChoice = 'auto' | 'plain' | 'silent';

export interface RunOptions {
  readonly mode: Mode;
  /** Run the cluster-wide preflight gate before the phases; errors stop apply before any change. */
  readonly preflight?: { readonly ignore: ReadonlySet<string> };
  readonly concurrency: number;
  readonly renderer: RendererChoice;
  readonly log: RunLog;
  readonly bundle?: OpenBundle;
}

/** A host to work on, and how to reach it: SSH from the inventory, or this machine for `kubestrap join`. */
export interface Reachable {
  readonly host: ResolvedHost;
}

/** Opens inventory hosts over SSH. */
export const overSsh =
  (connect: ConnectOptions) =>
  (target: ConnectTarget): Promise<HostTarget> =>
    connectTarget(target, connect);

export interface HostChange {
  readonly phase: string;
  readonly change: Change;
}

export interface HostOutcome {
  readonly name: string;
  /** blocked: not changed because preflight failed on other hosts. */
  status: 'ok' | 'failed' | 'unreachable' | 'blocked';
  failedPhase?: string;
  error?: string;
  readonly changes: HostChange[];
  readonly warnings: Array<{ phase: string; message: string }>;
}

export interface WorkflowResult {
  readonly mode: Mode;
  readonly outcomes: readonly HostOutcome[];
  readonly ok: boolean;
  readonly elapsedMs: number;
  /** Hosts that connected; the caller closes them (or keeps using them). */
  readonly connected: readonly HostTarget[];
  readonly preflight: readonly PreflightFinding[];
  /** What preflight observed on each host, for the cluster report. */
  readonly observed: readonly Observed[];
}

export class PhaseSelectionError extends Error {}

/** Applies --only / --skip, refusing names that are not phases (a typo must not run everything). */
/**
 * The phases --only/--skip leave; a name may also be a group (e.g. `prepare`, `init`), which
 * stands for its phases.
 */
export function selectPhases(phases: readonly Phase[], only: readonly string[] = [], skip: readonly string[] = [], groups: Readonly<Record<string, readonly string[]>> = {}): Phase[] {
  const known = new Set(phases.map((p) => p.name));
  const unknown = [...only, ...skip].filter((n) => !known.has(n) && !groups[n]);
  if (unknown.length) {
    const groupNames = Object.keys(groups);
    throw new PhaseSelectionError(`unknown phase${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; phases are: ${[...known].join(', ')}${groupNames.length ? `; groups: ${groupNames.join(', ')}` : ''}`);
  }
  const expand = (names: readonly string[]) => names.flatMap((n) => groups[n] ?? [n]);
  const [onlyNames, skipNames] = [expand(only), expand(skip)];
  return phases.filter((p) => (onlyNames.length === 0 || onlyNames.includes(p.name)) && !skipNames.includes(p.name));
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function countLabel(n: number, mode: Mode): string {
  if (n === 0) return 'no changes';
  return `${n} change${n === 1 ? '' : 's'}${mode === 'plan' ? ' planned' : ' applied'}`;
}

export async function runWorkflow<T extends Reachable>(inventory: Inventory, targets: readonly T[], phases: readonly Phase[], options: RunOptions & { readonly open: (target: T) => Promise<HostTarget> }): Promise<WorkflowResult> {
  const started = Date.now();
  const outcomes = new Map<string, HostOutcome>(targets.map((t) => [t.host.name, { name: t.host.name, status: 'ok', changes: [], warnings: [] }]));
  const connected: HostTarget[] = [];
  const fail = (name: string, phase: string, err: unknown, status: HostOutcome['status'] = 'failed') => {
    const outcome = outcomes.get(name)!;
    outcome.status = status;
    outcome.failedPhase = phase;
    outcome.error = options.log.redactor.redact(errorText(err));
    options.log.write(name, `FAILED in ${phase}: ${outcome.error}`);
  };

  const connectTasks: ListrTask[] = targets.map((target) => ({
    title: target.host.name,
    task: async (_ctx, task) => {
      try {
        const hostTarget = await options.open(target);
        connected.push(hostTarget);
        task.title = `${target.host.name}: ${hostTarget.facts.os.prettyName}, kernel ${hostTarget.facts.kernel}`;
      } catch (err) {
        fail(target.host.name, 'connect', err, 'unreachable');
        throw new Error(`${target.host.name}: ${outcomes.get(target.host.name)!.error}`);
      }
    },
  }));

  // inventory order, whatever order the connections completed in, so output is stable
  // the task of each host's running phase, where its progress lines go
  const running = new Map<string, { output?: string }>();
  const progress = (host: string, line: string) => {
    options.log.write(host, line);
    const task = running.get(host);
    if (task) task.output = line;
  };
  const ctx = (): PhaseContext => ({ inventory, hosts: [...connected].sort((a, b) => a.spec.index - b.spec.index), log: options.log, progress, ...(options.bundle ? { bundle: options.bundle } : {}) });
  // plan still shows what would change on hosts that failed preflight; apply leaves them alone
  const preflightFailed = new Set<string>();
  const alive = (t: HostTarget) => outcomes.get(t.spec.name)!.status === 'ok' && (options.mode === 'plan' || !preflightFailed.has(t.spec.name));
  let findings: PreflightFinding[] = [];
  let seen: Observed[] = [];
  let stopped = false;

  const plans = new Map<string, HostPlans>();
  const readTask: ListrTask = {
    title: options.preflight ? 'read: preflight checks and plans of every phase, on every host' : 'read: plans of every phase, on every host',
    task: async (_c, task) => {
      const context = ctx();
      const targets = context.hosts.filter(alive);
      const urls = mirrorUrls(inventory);
      const observed = await mapLimit(targets, options.concurrency, async (target) => {
        try {
          const [snapshot, hostPlans] = await Promise.all([options.preflight ? gatherSnapshot(target.host, urls) : undefined, readAhead(phases, context, target)]);
          plans.set(target.spec.name, hostPlans);
          return snapshot && { target, snapshot };
        } catch (err) {
          fail(target.spec.name, 'preflight', err);
          return undefined;
        }
      });
      if (!options.preflight) return;
      const ok = observed.filter((o): o is Observed => o !== undefined);
      seen = ok;
      findings = applyIgnores(evaluate(inventory, ok, options.bundle), options.preflight.ignore);
      for (const f of findings) options.log.write(f.host, `preflight ${f.severity} ${f.check}: ${f.message}`);
      const errors = findings.filter((f) => f.severity === 'error');
      for (const f of errors) preflightFailed.add(f.host);
      if (errors.length) {
        stopped = options.mode === 'apply';
        throw new Error(`${errors.length} preflight error${errors.length === 1 ? '' : 's'} on ${preflightFailed.size} host${preflightFailed.size === 1 ? '' : 's'}${stopped ? '; nothing was changed' : ''}`);
      }
      task.title = `preflight: ${targets.length} hosts checked, ${findings.length} warning${findings.length === 1 ? '' : 's'}`;
    },
  };

  /** The plan to act on: read ahead while still exact, read again after an earlier change. */
  const planFor = async (index: number, context: PhaseContext, target: HostTarget): Promise<PhasePlan> => {
    const ahead = plans.get(target.spec.name);
    const outcome = ahead?.outcomes[index];
    if (ahead && outcome && (options.mode === 'plan' || index <= ahead.firstChange)) {
      if ('error' in outcome) throw outcome.error;
      return outcome.plan;
    }
    return phases[index]!.plan(context, target);
  };

  const phaseTask = (phase: Phase, index: number): ListrTask => ({
    title: `${phase.name}: ${phase.title}`,
    task: (_ctx, task) => {
      const context = ctx();
      const selected = stopped ? [] : (phase.selectHosts ? phase.selectHosts(context) : context.hosts).filter(alive);
      // where a run was when it stopped, for whoever reads the log after a crash
      options.log.write('workflow', `phase ${phase.name} on ${selected.length} host${selected.length === 1 ? '' : 's'}`);
      if (selected.length === 0) {
        task.skip(`${phase.name}: no hosts`);
        return;
      }
      return task.newListr(
        selected.map((target) => ({
          title: target.spec.name,
          task: async (_c, sub) => {
            const name = target.spec.name;
            const outcome = outcomes.get(name)!;
            running.set(name, sub);
            try {
              const plan = await planFor(index, context, target);
              for (const message of plan.warnings ?? []) {
                outcome.warnings.push({ phase: phase.name, message });
                options.log.write(name, `WARNING in ${phase.name}: ${message}`);
              }
              if (options.mode === 'apply' && plan.changes.length) await phase.apply(context, target, plan.changes);
              for (const change of plan.changes) {
                outcome.changes.push({ phase: phase.name, change });
                options.log.write(name, `${options.mode === 'apply' ? 'changed' : 'would change'} ${change.target}: ${change.summary}`);
              }
              const warned = plan.warnings?.length ? `, ${plan.warnings.length} warning${plan.warnings.length > 1 ? 's' : ''}` : '';
              sub.title = `${name}: ${countLabel(plan.changes.length, options.mode)}${warned}`;
            } catch (err) {
              fail(name, phase.name, err);
              throw new Error(`${name}: ${outcome.error}`);
            } finally {
              running.delete(name);
            }
          },
        })),
        { concurrent: options.concurrency, exitOnError: false },
      );
    },
  });

  const list = new Listr(
    [
      { title: 'connect: connect and probe hosts', task: (_c, task) => task.newListr(connectTasks, { concurrent: options.concurrency, exitOnError: false }) },
      ...(phases.length || options.preflight ? [readTask] : []),
      ...phases.map(phaseTask),
    ],
    {
      concurrent: false,
      exitOnError: false,
      renderer: options.renderer === 'silent' ? 'silent' : options.renderer === 'plain' ? 'simple' : 'default',
      fallbackRenderer: 'simple',
      rendererOptions: { timer: PRESET_TIMER, collapseSubtasks: false, collapseErrors: false },
      fallbackRendererOptions: { timer: PRESET_TIMER },
    },
  );
  await list.run();
  options.log.write('workflow', 'phases done');
  for (const name of preflightFailed) {
    const outcome = outcomes.get(name)!;
    if (outcome.status !== 'ok') continue;
    outcome.status = 'failed';
    outcome.failedPhase = 'preflight';
    outcome.error = findings.filter((f) => f.host === name && f.severity === 'error').map((f) => `[${f.check}] ${f.message}`).join('\n');
  }
  if (stopped) {
    for (const outcome of outcomes.values()) {
      if (outcome.status !== 'ok') continue;
      outcome.status = 'blocked';
      outcome.failedPhase = 'preflight';
      outcome.error = 'nothing changed: preflight failed on other hosts';
    }
  }
  const all = [...outcomes.values()];
  return { mode: options.mode, outcomes: all, ok: all.every((o) => o.status === 'ok'), elapsedMs: Date.now() - started, connected, preflight: findings, observed: seen };
}
