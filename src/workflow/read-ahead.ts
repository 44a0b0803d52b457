/**
 * Reading ahead: every phase's plan for a host is computed at once, in parallel over the host's
 * one SSH connection, before anything changes. Until the first phase that changes something,
 * those plans are exact (nothing has changed yet), so a run with nothing to do costs a few round
 * trips per host instead of one per phase; phases after the first change plan again, in order.
 */
import type { HostTarget, Phase, PhaseContext, PhasePlan } from '../kit/phase.js';

export type PlanOutcome = { readonly plan: PhasePlan } | { readonly error: unknown };

export interface HostPlans {
  /** By phase index; undefined where the phase does not select this host. */
  readonly outcomes: ReadonlyArray<PlanOutcome | undefined>;
  /** Index of the first phase with changes or an error; phases.length when there is none. */
  readonly firstChange: number;
}

export function selectedHosts(phase: Phase, ctx: PhaseContext): Set<string> {
  return new Set((phase.selectHosts ? phase.selectHosts(ctx) : ctx.hosts).map((t) => t.spec.name));
}

/** `selections`: each phase's hosts (selectedHosts), computed once for all hosts of a run. */
export async function readAhead(
  phases: readonly Phase[],
  ctx: PhaseContext,
  target: HostTarget,
  selections: ReadonlyArray<ReadonlySet<string>>,
): Promise<HostPlans> {
  const outcomes = await Promise.all(
    phases.map((phase, i) =>
      selections[i]!.has(target.spec.name)
        ? phase.plan(ctx, target).then(
            (plan): PlanOutcome => ({ plan }),
            (error: unknown): PlanOutcome => ({ error }),
          )
        : Promise.resolve(undefined),
    ),
  );
  const first = outcomes.findIndex((o) => o !== undefined && ('error' in o || o.plan.changes.length > 0));
  return { outcomes, firstChange: first < 0 ? phases.length : first };
}
