/**
 * The workflow engine: connect and probe every host, read ahead (the preflight gate and every
 * phase's plan), then each phase in order, hosts in parallel up to a limit. A host that fails
 * drops out of later phases; the others go on. It renders nothing: it emits typed events
 * (events.ts) for whoever listens, and returns one outcome per host, so the caller can print a
 * summary and exit non-zero.
 */
import type { OpenBundle } from '../airgap/bundle.js';
import type { Inventory } from '../inventory/schema.js';
import type { ResolvedHost } from '../inventory/resolve.js';
import type { RunLog } from '../log/run-log.js';
import { applyIgnores, evaluate, mirrorUrls, type Observed, type PreflightFinding } from '../preflight/checks.js';
import { gatherSnapshot } from '../preflight/gather.js';
import { mapLimit } from '../util/concurrency.js';
import type { WorkflowEventBody, WorkflowListener, StageInfo } from './events.js';
import type { Change, HostTarget, Mode, Phase, PhaseContext, PhasePlan } from './phase.js';
import { readAhead, selectedHosts, type HostPlans } from './read-ahead.js';

/** A host to work on, and how to reach it: SSH from the inventory, or this machine for `kubestrap join`. */
export interface Reachable {
  readonly host: ResolvedHost;
}

export interface EngineOptions<T extends Reachable> {
  readonly mode: Mode;
  /** Run the cluster-wide preflight gate before the phases; errors stop apply before any change. */
  readonly preflight?: { readonly ignore: ReadonlySet<string> };
  readonly concurrency: number;
  readonly log: RunLog;
  readonly bundle?: OpenBundle;
  readonly open: (target: T) => Promise<HostTarget>;
  /** Told every event, in order. */
  readonly listener?: WorkflowListener;
}

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

/** How long a stage took as a whole and on each of its hosts (`--report`, the benches). */
export interface StageTiming {
  readonly name: string;
  readonly elapsedMs: number;
  readonly hosts: Readonly<Record<string, number>>;
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
  readonly timings: readonly StageTiming[];
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function countLabel(n: number, mode: Mode): string {
  if (n === 0) return 'no changes';
  return `${n} change${n === 1 ? '' : 's'}${mode === 'plan' ? ' planned' : ' applied'}`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The stages a run goes through, in order: what renderers lay out before it starts. */
export function stagesOf(phases: readonly Phase[], preflight: boolean): StageInfo[] {
  return [
    { name: 'connect', kind: 'connect', title: 'connect: connect and probe hosts' },
    ...(phases.length || preflight ? [{ name: 'read', kind: 'read', title: preflight ? 'read: preflight checks and plans of every phase, on every host' : 'read: plans of every phase, on every host' } as const] : []),
    ...phases.map((p) => ({ name: p.name, kind: 'phase', title: `${p.name}: ${p.title}` }) as const),
  ];
}

export async function runEngine<T extends Reachable>(inventory: Inventory, targets: readonly T[], phases: readonly Phase[], options: EngineOptions<T>): Promise<WorkflowResult> {
  const started = Date.now();
  const since = (t: number) => Date.now() - t;
  const emit = (event: WorkflowEventBody) => options.listener?.({ ...event, at: since(started) });
  const redact = (text: string) => options.log.redactor.redact(text);
  const outcomes = new Map<string, HostOutcome>(targets.map((t) => [t.host.name, { name: t.host.name, status: 'ok', changes: [], warnings: [] }]));
  const timings: StageTiming[] = [];
  const connected: HostTarget[] = [];
  const fail = (name: string, phase: string, err: unknown, status: HostOutcome['status'] = 'failed') => {
    const outcome = outcomes.get(name)!;
    outcome.status = status;
    outcome.failedPhase = phase;
    outcome.error = redact(errorText(err));
    options.log.write(name, `FAILED in ${phase}: ${outcome.error}`);
    return outcome.error;
  };

  /** Runs `work` on each host of a stage, concurrency-limited, timing each and telling listeners. */
  const stage = async <H>(name: string, hosts: readonly H[], hostName: (h: H) => string, work: (h: H) => Promise<{ summary: string; changes?: HostChange[]; warnings?: string[] }>) => {
    const t0 = Date.now();
    const perHost: Record<string, number> = {};
    emit({ type: 'stage-start', stage: name, hosts: hosts.map(hostName), ...(hosts.length ? {} : { skipped: `${name}: no hosts` }) });
    await mapLimit(hosts, options.concurrency, async (h) => {
      const host = hostName(h);
      const h0 = Date.now();
      emit({ type: 'host-start', stage: name, host });
      try {
        const done = await work(h);
        perHost[host] = since(h0);
        emit({ type: 'host-done', stage: name, host, summary: done.summary, elapsedMs: perHost[host]!, ...(done.changes ? { changes: done.changes.map((c) => ({ target: c.change.target, summary: c.change.summary })) } : {}), ...(done.warnings?.length ? { warnings: done.warnings } : {}) });
      } catch (err) {
        perHost[host] = since(h0);
        emit({ type: 'host-failed', stage: name, host, error: outcomes.get(host)?.error ?? redact(errorText(err)), elapsedMs: perHost[host]! });
      }
    });
    timings.push({ name, elapsedMs: since(t0), hosts: perHost });
  };

  emit({ type: 'run-start', mode: options.mode, hosts: targets.map((t) => t.host.name), stages: stagesOf(phases, options.preflight !== undefined) });

  await stage('connect', targets, (t) => t.host.name, async (target) => {
    try {
      const hostTarget = await options.open(target);
      connected.push(hostTarget);
      return { summary: `${target.host.name}: ${hostTarget.facts.os.prettyName}, kernel ${hostTarget.facts.kernel}` };
    } catch (err) {
      throw new Error(fail(target.host.name, 'connect', err, 'unreachable'));
    }
  });
  emit({ type: 'stage-done', stage: 'connect', elapsedMs: timings.at(-1)!.elapsedMs });

  // the task of each host's running phase, where its progress lines go
  let current = new Map<string, string>();
  const progress = (host: string, line: string) => {
    options.log.write(host, line);
    const running = current.get(host);
    if (running) emit({ type: 'host-progress', stage: running, host, line: redact(line) });
  };
  // inventory order, whatever order the connections completed in, so output is stable
  const ctx = (): PhaseContext => ({ inventory, hosts: [...connected].sort((a, b) => a.spec.index - b.spec.index), log: options.log, progress, ...(options.bundle ? { bundle: options.bundle } : {}) });
  // plan still shows what would change on hosts that failed preflight; apply leaves them alone
  const preflightFailed = new Set<string>();
  const alive = (t: HostTarget) => outcomes.get(t.spec.name)!.status === 'ok' && (options.mode === 'plan' || !preflightFailed.has(t.spec.name));
  let findings: PreflightFinding[] = [];
  let seen: Observed[] = [];
  let stopped = false;

  const plans = new Map<string, HostPlans>();
  if (phases.length || options.preflight) {
    const t0 = Date.now();
    const context = ctx();
    const reading = context.hosts.filter(alive);
    emit({ type: 'stage-start', stage: 'read', hosts: reading.map((t) => t.spec.name) });
    const urls = mirrorUrls(inventory);
    // every host's preflight snapshot at once: it is one command per host that mostly waits on
    // the network (its mirror probes may take seconds), so it holds no --concurrency slot
    const snapshots = new Map(reading.map((target) => [target.spec.name, options.preflight ? gatherSnapshot(target.host, urls) : Promise.resolve(undefined)]));
    for (const pending of snapshots.values()) pending.catch(() => undefined);
    const selections = phases.map((p) => selectedHosts(p, context));
    const observed = await mapLimit(reading, options.concurrency, async (target) => {
      try {
        const [snapshot, hostPlans] = await Promise.all([snapshots.get(target.spec.name)!, readAhead(phases, context, target, selections)]);
        plans.set(target.spec.name, hostPlans);
        return snapshot && { target, snapshot };
      } catch (err) {
        fail(target.spec.name, 'preflight', err);
        return undefined;
      }
    });
    let summary: string | undefined;
    let error: string | undefined;
    if (options.preflight) {
      seen = observed.filter((o): o is Observed => o !== undefined);
      findings = applyIgnores(evaluate(inventory, seen, options.bundle), options.preflight.ignore);
      for (const f of findings) options.log.write(f.host, `preflight ${f.severity} ${f.check}: ${f.message}`);
      const errors = findings.filter((f) => f.severity === 'error');
      for (const f of errors) preflightFailed.add(f.host);
      stopped = errors.length > 0 && options.mode === 'apply';
      if (errors.length) error = `${plural(errors.length, 'preflight error')} on ${plural(preflightFailed.size, 'host')}${stopped ? '; nothing was changed' : ''}`;
      else summary = `preflight: ${reading.length} hosts checked, ${plural(findings.length, 'warning')}`;
    }
    timings.push({ name: 'read', elapsedMs: since(t0), hosts: {} });
    emit({ type: 'stage-done', stage: 'read', elapsedMs: since(t0), ...(summary ? { summary } : {}), ...(error ? { error } : {}) });
  }

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

  for (const [index, phase] of phases.entries()) {
    const context = ctx();
    const selected = stopped ? [] : (phase.selectHosts ? phase.selectHosts(context) : context.hosts).filter(alive);
    // where a run was when it stopped, for whoever reads the log after a crash
    options.log.write('workflow', `phase ${phase.name} on ${plural(selected.length, 'host')}`);
    current = new Map(selected.map((t) => [t.spec.name, phase.name]));
    await stage(phase.name, selected, (t) => t.spec.name, async (target) => {
      const name = target.spec.name;
      const outcome = outcomes.get(name)!;
      try {
        const plan = await planFor(index, context, target);
        const warnings = plan.warnings ?? [];
        for (const message of warnings) {
          outcome.warnings.push({ phase: phase.name, message });
          options.log.write(name, `WARNING in ${phase.name}: ${message}`);
        }
        if (options.mode === 'apply' && plan.changes.length) await phase.apply(context, target, plan.changes);
        const changes = plan.changes.map((change) => ({ phase: phase.name, change }));
        for (const { change } of changes) options.log.write(name, `${options.mode === 'apply' ? 'changed' : 'would change'} ${change.target}: ${change.summary}`);
        outcome.changes.push(...changes);
        const warned = warnings.length ? `, ${plural(warnings.length, 'warning')}` : '';
        return { summary: `${name}: ${countLabel(plan.changes.length, options.mode)}${warned}`, changes, warnings: [...warnings] };
      } catch (err) {
        throw new Error(fail(name, phase.name, err));
      } finally {
        current.delete(name);
      }
    });
    emit({ type: 'stage-done', stage: phase.name, elapsedMs: timings.at(-1)!.elapsedMs });
  }
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
  const ok = all.every((o) => o.status === 'ok');
  emit({ type: 'run-done', ok, elapsedMs: since(started) });
  return { mode: options.mode, outcomes: all, ok, elapsedMs: since(started), connected, preflight: findings, observed: seen, timings };
}
