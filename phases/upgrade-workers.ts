/**
 * upgrade-workers (`kubestrap upgrade apply`, after the control planes): workers get the
 * inventory's version and kubelet settings, at most `maxUnavailable` at a time, each drained
 * first and uncordoned once its Node is Ready again; the first failure stops the roll.
 */
import { requireApi } from '../src/kube/admin-api.js';
import { applyNodeRoll, planNodeRoll, type RollAccess, type RollPayload } from '../src/upgrade/node-roll.js';
import { rollingQueue } from '../src/util/concurrency.js';
import type { Phase, PhaseContext } from '../src/kit/phase.js';
import { onLeader, workers } from '../src/kit/hosts.js';

/** Workers are drained and watched through the inventory's first control plane. */
function throughFirstControlPlane(ctx: PhaseContext): RollAccess {
  return {
    withApi: (use) => {
      const cp = onLeader(ctx)[0];
      if (!cp) throw new Error("the inventory's first control plane is not reachable: workers are drained through it");
      return requireApi(cp, 'workers are drained through it', use);
    },
  };
}

/** `rolled`: the host phases each worker re-runs inside its drain window. */
export function upgradeWorkersPhase(maxUnavailable: number, rolled: readonly Phase[]): Phase<RollPayload> {
  const batch = rollingQueue(maxUnavailable);
  return {
    name: 'upgrade-workers',
    title: `workers upgraded, at most ${maxUnavailable} drained at a time`,
    description:
      "Brings each worker to the inventory's version and kubelet settings: drained, packages and kubelet files, kubelet restarted, Ready again, uncordoned.",
    selectHosts: workers,
    plan: async (ctx, target) => ({ changes: await planNodeRoll(ctx, target, rolled, throughFirstControlPlane(ctx)) }),
    apply: (ctx, target, changes) =>
      batch(target.spec.name, () => applyNodeRoll(ctx, target, changes, rolled, throughFirstControlPlane(ctx))),
  };
}
