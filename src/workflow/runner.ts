/**
 * Runs phases across hosts: connect and probe every host, then each phase in order, hosts in
 * parallel up to a limit. A host that fails drops out of later phases; the others go on. The
 * result holds one outcome per host, so the caller can print a summary and exit non-zero.
 */
import { Listr, PRESET_TIMER, type ListrTask } from 'listr2';
import type { Inventory } from '../inventory/schema.js';
import type { RunLog } from '../log/run-log.js';
import type { ConnectTarget } from '../transport/credentials.js';
import { connectTarget, type ConnectOptions } from './connect.js';
import type { Change, HostTarget, Phase, PhaseContext } from './phase.js';

export type Mode = 'plan' | 'apply';
export type RendererChoice = 'auto' | 'plain' | 'silent';

export interface RunOptions {
  readonly mode: Mode;
  readonly concurrency: number;
  readonly renderer: RendererChoice;
  readonly connect: ConnectOptions;
  readonly log: RunLog;
}

export interface HostChange {
  readonly phase: string;
  readonly change: Change;
}

export interface HostOutcome {
  readonly name: string;
  status: 'ok' | 'failed' | 'unreachable';
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
}

export class PhaseSelectionError extends Error {}

/** Applies --only / --skip, refusing names that are not phases (a typo must not run everything). */
export function selectPhases(phases: readonly Phase[], only: readonly string[] = [], skip: readonly string[] = []): Phase[] {
  const known = new Set(phases.map((p) => p.name));
  const unknown = [...only, ...skip].filter((n) => !known.has(n));
  if (unknown.length) {
    throw new PhaseSelectionError(`unknown phase${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; phases are: ${[...known].join(', ')}`);
  }
  return phases.filter((p) => (only.length === 0 || only.includes(p.name)) && !skip.includes(p.name));
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function countLabel(n: number, mode: Mode): string {
  if (n === 0) return 'no changes';
  return `${n} change${n === 1 ? '' : 's'}${mode === 'plan' ? ' planned' : ' applied'}`;
}

export async function runWorkflow(inventory: Inventory, targets: readonly ConnectTarget[], phases: readonly Phase[], options: RunOptions): Promise<WorkflowResult> {
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
        const hostTarget = await connectTarget(target, options.connect);
        connected.push(hostTarget);
        task.title = `${target.host.name}: ${hostTarget.facts.os.prettyName}, kernel ${hostTarget.facts.kernel}`;
      } catch (err) {
        fail(target.host.name, 'connect', err, 'unreachable');
        throw new Error(`${target.host.name}: ${outcomes.get(target.host.name)!.error}`);
      }
    },
  }));

  const ctx = (): PhaseContext => ({ inventory, hosts: connected, log: options.log });
  const alive = (t: HostTarget) => outcomes.get(t.spec.name)!.status === 'ok';

  const phaseTask = (phase: Phase): ListrTask => ({
    title: `${phase.name}: ${phase.title}`,
    task: (_ctx, task) => {
      const context = ctx();
      const selected = (phase.selectHosts ? phase.selectHosts(context) : context.hosts).filter(alive);
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
            try {
              const plan = await phase.plan(context, target);
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
  const all = [...outcomes.values()];
  return { mode: options.mode, outcomes: all, ok: all.every((o) => o.status === 'ok'), elapsedMs: Date.now() - started, connected };
}
