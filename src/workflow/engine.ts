/**
 * The workflow engine: connect and probe every host, read ahead (the preflight gate and every
 * phase's plan), then each phase in order, hosts in parallel up to a limit. A host that fails
 * drops out of later phases; the others go on. It renders nothing: it emits typed events
 * (events.ts) for whoever listens, and returns one outcome per host, so the caller can print a
 * summary and exit non-zero.
 */
import type { OpenBundle } from '../kit/bundle.js';
import type { Inventory } from '../inventory/schema.js';
import type { ResolvedHost } from '../inventory/resolve.js';
import type { RunLog } from '../log/run-log.js';
import type { Gate, GateFinding, Observed } from '../kit/gate.js';
import { mapLimit } from '../util/concurrency.js';
import type { WorkflowEventBody, WorkflowListener, StageInfo } from './events.js';
import type { Change, HostTarget, Mode, Phase, PhaseContext, PhasePlan } from '../kit/phase.js';
import { readAhead, selectedHosts, type HostPlans } from './read-ahead.js';

/** A host to work on, and how to reach it: SSH from the inventory, or this machine for `kubestrap join`. */
export interface Reachable {
  readonly host: ResolvedHost;
}

export interface EngineOptions<T extends Reachable, S = unknown> {
  readonly mode: Mode;
  /** The cluster-wide gate before the phases (preflight); its errors stop apply before any change. */
  readonly gate?: Gate<S>;
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

export interface WorkflowResult<S = unknown> {
  readonly mode: Mode;
  readonly outcomes: readonly HostOutcome[];
  readonly ok: boolean;
  readonly elapsedMs: number;
  /** Hosts that connected; the caller closes them (or keeps using them). */
  readonly connected: readonly HostTarget[];
  readonly preflight: readonly GateFinding[];
  /** What the gate observed on each host, for the cluster report. */
  readonly observed: ReadonlyArray<Observed<S>>;
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
export function stagesOf(phases: readonly Phase[], gated: boolean): StageInfo[] {
  return [
    { name: 'connect', kind: 'connect', title: 'connect: connect and probe hosts' },
    ...(phases.length || gated
      ? [
          {
            name: 'read',
            kind: 'read',
            title: gated ? 'read: preflight checks and plans of every phase, on every host' : 'read: plans of every phase, on every host',
          } as const,
        ]
      : []),
    ...phases.map((p) => ({ name: p.name, kind: 'phase', title: `${p.name}: ${p.title}` }) as const),
  ];
}

type StageWork = { summary: string; changes?: HostChange[]; warnings?: string[] };

/**
 * One run of the engine: the state every stage shares (each host's outcome, the stage timings,
 * the connected hosts, what the gate found), and one method per stage, in the order run() calls them.
 */
class EngineRun<T extends Reachable, S> {
  private readonly started = Date.now();
  private readonly outcomes: Map<string, HostOutcome>;
  private readonly timings: StageTiming[] = [];
  private readonly connected: HostTarget[] = [];
  /** Each host's plans, read ahead before anything changed. */
  private readonly plans = new Map<string, HostPlans>();
  /** Hosts that failed the gate: plan still shows what would change on them, apply leaves them alone. */
  private readonly gateFailed = new Set<string>();
  private findings: GateFinding[] = [];
  private observed: Array<Observed<S>> = [];
  /** Apply stops before any phase: the gate found errors. */
  private stopped = false;
  /** Whether this run changed anything yet, on any host: plans that read other hosts are stale from then on. */
  private changedAnywhere = false;
  /** The phase running on each host, where its progress lines go. */
  private running = new Map<string, string>();

  constructor(
    private readonly inventory: Inventory,
    private readonly targets: readonly T[],
    private readonly phases: readonly Phase[],
    private readonly options: EngineOptions<T, S>,
  ) {
    this.outcomes = new Map(targets.map((t) => [t.host.name, { name: t.host.name, status: 'ok', changes: [], warnings: [] }]));
  }

  async run(): Promise<WorkflowResult<S>> {
    this.emit({
      type: 'run-start',
      mode: this.options.mode,
      hosts: this.targets.map((t) => t.host.name),
      stages: stagesOf(this.phases, this.options.gate !== undefined),
    });
    await this.connect();
    if (this.phases.length || this.options.gate) await this.readAhead();
    for (const [index, phase] of this.phases.entries()) await this.runPhase(index, phase);
    this.options.log.write('workflow', 'phases done');
    return this.finish();
  }

  private since = (t: number) => Date.now() - t;
  private emit = (event: WorkflowEventBody) => this.options.listener?.({ ...event, at: this.since(this.started) });
  private redact = (text: string) => this.options.log.redactor.redact(text);

  /** Marks a host failed in `phase`; returns the error as shown. */
  private fail(name: string, phase: string, err: unknown, status: HostOutcome['status'] = 'failed'): string {
    const outcome = this.outcomes.get(name)!;
    outcome.status = status;
    outcome.failedPhase = phase;
    outcome.error = this.redact(errorText(err));
    this.options.log.write(name, `FAILED in ${phase}: ${outcome.error}`);
    return outcome.error;
  }

  private alive = (t: HostTarget) =>
    this.outcomes.get(t.spec.name)!.status === 'ok' && (this.options.mode === 'plan' || !this.gateFailed.has(t.spec.name));

  private progress = (host: string, line: string) => {
    this.options.log.write(host, line);
    const stage = this.running.get(host);
    if (stage) this.emit({ type: 'host-progress', stage, host, line: this.redact(line) });
  };

  /** The phases' view of the run; hosts in inventory order, whatever order they connected in, so output is stable. */
  private context(): PhaseContext {
    const hosts = [...this.connected].sort((a, b) => a.spec.index - b.spec.index);
    return {
      inventory: this.inventory,
      hosts,
      log: this.options.log,
      progress: this.progress,
      ...(this.options.bundle ? { bundle: this.options.bundle } : {}),
    };
  }

  /** Runs `work` on each host of a stage, concurrency-limited, timing each and telling listeners. */
  private async stage<H>(name: string, hosts: readonly H[], hostName: (h: H) => string, work: (h: H) => Promise<StageWork>): Promise<void> {
    const t0 = Date.now();
    const perHost: Record<string, number> = {};
    this.emit({ type: 'stage-start', stage: name, hosts: hosts.map(hostName), ...(hosts.length ? {} : { skipped: `${name}: no hosts` }) });
    await mapLimit(hosts, this.options.concurrency, async (h) => {
      const host = hostName(h);
      const h0 = Date.now();
      this.emit({ type: 'host-start', stage: name, host });
      try {
        const done = await work(h);
        perHost[host] = this.since(h0);
        const changes = done.changes ? { changes: done.changes.map((c) => ({ target: c.change.target, summary: c.change.summary })) } : {};
        this.emit({
          type: 'host-done',
          stage: name,
          host,
          summary: done.summary,
          elapsedMs: perHost[host],
          ...changes,
          ...(done.warnings?.length ? { warnings: done.warnings } : {}),
        });
      } catch (err) {
        perHost[host] = this.since(h0);
        this.emit({
          type: 'host-failed',
          stage: name,
          host,
          error: this.outcomes.get(host)?.error ?? this.redact(errorText(err)),
          elapsedMs: perHost[host],
        });
      }
    });
    this.timings.push({ name, elapsedMs: this.since(t0), hosts: perHost });
  }

  private async connect(): Promise<void> {
    await this.stage(
      'connect',
      this.targets,
      (t) => t.host.name,
      async (target) => {
        try {
          const hostTarget = await this.options.open(target);
          this.connected.push(hostTarget);
          return { summary: `${target.host.name}: ${hostTarget.facts.os.prettyName}, kernel ${hostTarget.facts.kernel}` };
        } catch (err) {
          throw new Error(this.fail(target.host.name, 'connect', err, 'unreachable'), { cause: err });
        }
      },
    );
    this.emit({ type: 'stage-done', stage: 'connect', elapsedMs: this.timings.at(-1)!.elapsedMs });
  }

  /** Every host's gate snapshot and every phase's plan at once, then the gate's judgement. */
  private async readAhead(): Promise<void> {
    const t0 = Date.now();
    const context = this.context();
    const reading = context.hosts.filter(this.alive);
    this.emit({ type: 'stage-start', stage: 'read', hosts: reading.map((t) => t.spec.name) });
    const gate = this.options.gate;
    // every host's gate snapshot at once: one command per host that mostly waits on the
    // network (mirror probes may take seconds), so it holds no --concurrency slot
    const snapshots = new Map(
      reading.map((target) => [target.spec.name, gate ? gate.read(target).then((value) => ({ value })) : Promise.resolve(undefined)]),
    );
    for (const pending of snapshots.values()) pending.catch(() => undefined);
    const selections = this.phases.map((p) => selectedHosts(p, context));
    const observed = await mapLimit(reading, this.options.concurrency, async (target): Promise<Observed<S> | undefined> => {
      try {
        const [snapshot, hostPlans] = await Promise.all([
          snapshots.get(target.spec.name)!,
          readAhead(this.phases, context, target, selections),
        ]);
        this.plans.set(target.spec.name, hostPlans);
        return snapshot && { target, snapshot: snapshot.value };
      } catch (err) {
        this.fail(target.spec.name, 'preflight', err);
        return undefined;
      }
    });
    const verdict = gate
      ? this.judge(
          gate,
          observed.filter((o): o is Observed<S> => o !== undefined),
          reading.length,
        )
      : {};
    this.timings.push({ name: 'read', elapsedMs: this.since(t0), hosts: {} });
    this.emit({ type: 'stage-done', stage: 'read', elapsedMs: this.since(t0), ...verdict });
  }

  /** The gate's findings, logged; its errors mark their hosts, and stop apply altogether. */
  private judge(gate: Gate<S>, observed: Array<Observed<S>>, hostCount: number): { summary?: string; error?: string } {
    this.observed = observed;
    this.findings = gate.judge(observed);
    for (const f of this.findings) this.options.log.write(f.host, `preflight ${f.severity} ${f.check}: ${f.message}`);
    const errors = this.findings.filter((f) => f.severity === 'error');
    for (const f of errors) this.gateFailed.add(f.host);
    this.stopped = errors.length > 0 && this.options.mode === 'apply';
    if (!errors.length) return { summary: `preflight: ${hostCount} hosts checked, ${plural(this.findings.length, 'warning')}` };
    return {
      error: `${plural(errors.length, 'preflight error')} on ${plural(this.gateFailed.size, 'host')}${this.stopped ? '; nothing was changed' : ''}`,
    };
  }

  /** The plan to act on: read ahead while still exact, read again after an earlier change. */
  private async planFor(index: number, context: PhaseContext, target: HostTarget): Promise<PhasePlan> {
    const ahead = this.plans.get(target.spec.name);
    const outcome = ahead?.outcomes[index];
    const exact = index <= (ahead?.firstChange ?? -1) && !(this.phases[index]!.readsOtherHosts && this.changedAnywhere);
    if (ahead && outcome && (this.options.mode === 'plan' || exact)) {
      if ('error' in outcome) throw outcome.error;
      return outcome.plan;
    }
    return this.phases[index]!.plan(context, target);
  }

  private async runPhase(index: number, phase: Phase): Promise<void> {
    const context = this.context();
    const selected = this.stopped ? [] : (phase.selectHosts ? phase.selectHosts(context) : context.hosts).filter(this.alive);
    // where a run was when it stopped, for whoever reads the log after a crash
    this.options.log.write('workflow', `phase ${phase.name} on ${plural(selected.length, 'host')}`);
    this.running = new Map(selected.map((t) => [t.spec.name, phase.name]));
    await this.stage(
      phase.name,
      selected,
      (t) => t.spec.name,
      async (target) => {
        try {
          return await this.phaseOnHost(index, phase, context, target);
        } catch (err) {
          throw new Error(this.fail(target.spec.name, phase.name, err), { cause: err });
        } finally {
          this.running.delete(target.spec.name);
        }
      },
    );
    this.emit({ type: 'stage-done', stage: phase.name, elapsedMs: this.timings.at(-1)!.elapsedMs });
  }

  /** One phase on one host: its plan, its warnings, and in apply mode its changes made. */
  private async phaseOnHost(index: number, phase: Phase, context: PhaseContext, target: HostTarget): Promise<StageWork> {
    const name = target.spec.name;
    const outcome = this.outcomes.get(name)!;
    const plan = await this.planFor(index, context, target);
    const warnings = plan.warnings ?? [];
    for (const message of warnings) {
      outcome.warnings.push({ phase: phase.name, message });
      this.options.log.write(name, `WARNING in ${phase.name}: ${message}`);
    }
    if (this.options.mode === 'apply' && plan.changes.length) {
      this.changedAnywhere = true;
      await phase.apply(context, target, plan.changes);
    }
    const changes = plan.changes.map((change) => ({ phase: phase.name, change }));
    for (const { change } of changes)
      this.options.log.write(name, `${this.options.mode === 'apply' ? 'changed' : 'would change'} ${change.target}: ${change.summary}`);
    outcome.changes.push(...changes);
    const warned = warnings.length ? `, ${plural(warnings.length, 'warning')}` : '';
    return { summary: `${name}: ${countLabel(plan.changes.length, this.options.mode)}${warned}`, changes, warnings: [...warnings] };
  }

  /** Hosts the gate failed count as failed; when it stopped apply, the others as blocked. */
  private finish(): WorkflowResult<S> {
    for (const name of this.gateFailed) {
      const outcome = this.outcomes.get(name)!;
      if (outcome.status !== 'ok') continue;
      outcome.status = 'failed';
      outcome.failedPhase = 'preflight';
      outcome.error = this.findings
        .filter((f) => f.host === name && f.severity === 'error')
        .map((f) => `[${f.check}] ${f.message}`)
        .join('\n');
    }
    if (this.stopped) {
      for (const outcome of this.outcomes.values()) {
        if (outcome.status !== 'ok') continue;
        outcome.status = 'blocked';
        outcome.failedPhase = 'preflight';
        outcome.error = 'nothing changed: preflight failed on other hosts';
      }
    }
    const all = [...this.outcomes.values()];
    const ok = all.every((o) => o.status === 'ok');
    this.emit({ type: 'run-done', ok, elapsedMs: this.since(this.started) });
    return {
      mode: this.options.mode,
      outcomes: all,
      ok,
      elapsedMs: this.since(this.started),
      connected: this.connected,
      preflight: this.findings,
      observed: this.observed,
      timings: this.timings,
    };
  }
}

export function runEngine<T extends Reachable, S = unknown>(
  inventory: Inventory,
  targets: readonly T[],
  phases: readonly Phase[],
  options: EngineOptions<T, S>,
): Promise<WorkflowResult<S>> {
  return new EngineRun(inventory, targets, phases, options).run();
}
