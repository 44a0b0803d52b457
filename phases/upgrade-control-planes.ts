/**
 * upgrade-control-planes (`kubestrap upgrade apply`, not part of apply): each control plane in
 * turn gets the inventory's version and settings — packages, kubelet files, static-pod
 * manifests — and must run them, its API server live, before the next one starts; the first
 * failure stops the roll, so the other control planes keep serving.
 */
import { requireApi } from '../src/kube/admin-api.js';
import { applyNodeRoll, planNodeRoll, type RollAccess, type RollPayload } from '../src/upgrade/node-roll.js';
import { rollingQueue } from '../src/util/concurrency.js';
import type { HostTarget, Phase } from '../src/kit/phase.js';
import { controlPlanes } from '../src/kit/hosts.js';

/** A control plane is drained and watched through its own API server: the one its roll restarts and then waits for. */
const throughItself = (target: HostTarget): RollAccess => ({
  withApi: (use) => requireApi(target, 'is it a control plane of this cluster?', use),
});

/** `rolled`: the host phases each control plane re-runs inside its roll. */
export function upgradeControlPlanesPhase(rolled: readonly Phase[]): Phase<RollPayload> {
  const oneAtATime = rollingQueue(1);
  return {
    name: 'upgrade-control-planes',
    title: 'control planes upgraded one at a time (packages, kubelet, static pods)',
    description:
      "Brings each control plane to the inventory's version and settings, one after another, each running its new components with its API server live before the next.",
    selectHosts: controlPlanes,
    plan: async (ctx, target) => ({ changes: await planNodeRoll(ctx, target, rolled, throughItself(target)) }),
    apply: (ctx, target, changes) => oneAtATime(target.spec.name, () => applyNodeRoll(ctx, target, changes, rolled, throughItself(target))),
  };
}
