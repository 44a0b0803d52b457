/**
 * Which connected hosts a phase works on, as selectHosts values and lookups: one behaviour for
 * "the first control plane" everywhere (k0sctl's Hosts.Controllers()/Workers() and K0sLeader()
 * are the model).
 */
import { isControlPlane, resolveHosts } from '../inventory/resolve.js';
import type { HostTarget, PhaseContext } from './phase.js';

export const controlPlanes = (ctx: PhaseContext): readonly HostTarget[] => ctx.hosts.filter((h) => isControlPlane(h.spec));
export const workers = (ctx: PhaseContext): readonly HostTarget[] => ctx.hosts.filter((h) => !isControlPlane(h.spec));

/**
 * selectHosts of the init phases: the inventory's first control plane (the leader, where kubeadm
 * init runs), when it connected. Another control plane never stands in for it: the cluster's
 * CA and first etcd member are there.
 */
export function onLeader(ctx: PhaseContext): readonly HostTarget[] {
  const name = resolveHosts(ctx.inventory).find(isControlPlane)!.name;
  return ctx.hosts.filter((h) => h.spec.name === name);
}

/** The leader, or an error saying it is not reachable and what needs it. */
export function leader(ctx: PhaseContext, why: string): HostTarget {
  const first = onLeader(ctx)[0];
  if (!first) throw new Error(`the inventory's first control plane is not reachable: ${why}`);
  return first;
}
