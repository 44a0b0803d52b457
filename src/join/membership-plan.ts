import type { PhasePlan } from '../kit/phase.js';

/** A join phase's plan: one change to the node's cluster membership, described by `summary`; none once it has joined. */
export function membershipPlan(joined: boolean, summary: string): PhasePlan<null> {
  return { changes: joined ? [] : [{ target: 'cluster membership', summary, payload: null }] };
}

/** What a control plane's join does, as its plan shows it. */
export const CONTROL_PLANE_JOIN = 'join as a control plane (etcd member, API server, controller-manager, scheduler)';
