/**
 * addons-ready: last, the add-ons' state through the API: each workload kubestrap deployed
 * (kube-proxy, the CNI, CoreDNS, metrics-server) Ready, or a warning per pod naming why not (an
 * image that cannot be pulled, a crash loop with its last log lines, a pod no node takes) and the
 * metrics API's availability. With cluster.addons.waitReady (apply --wait-addons) it waits for
 * them, at most that long, and fails naming what is not Ready; an add-on that will not become
 * Ready by waiting (an image that is not there) ends the wait once that has held for 30 s. Changes nothing.
 */
import { addonObjects, inventoryCalicoManifest } from '../src/kube/addon-set.js';
import { withApi } from '../src/kube/admin-api.js';
import {
  addonState,
  addonWorkloads,
  formatAddonProblem,
  problemsByCause,
  willNotBecomeReady,
  type AddonState,
} from '../src/kube/addon-status.js';
import type { ApiClient } from '../src/kube/api-client.js';
import type { Inventory } from '../src/inventory/schema.js';
import { durationSeconds } from '../src/util/duration.js';
import { pollUntil } from '../src/util/poll.js';
import type { Phase, PhaseContext } from '../src/kit/phase.js';
import { onLeader } from '../src/kit/hosts.js';

type Payload = { kind: 'wait'; seconds: number };

/** How often the state is read while waiting: add-on pods take seconds to tens of seconds to start. */
const POLL_MS = 5000;
/**
 * How long every add-on not Ready must stay held back by a final problem before the wait ends:
 * the kubelet retries a pull once before its back-off, and the scheduler places a pod again
 * within its 10 s back-off once a sibling that held the node is gone, while the pod's condition
 * still names the old reason (seen in CI: a metrics-server replica restarted beside one ending).
 */
const FINAL_FOR_MS = 30_000;

async function currentState(ctx: PhaseContext, api: ApiClient): Promise<AddonState> {
  const inv: Inventory = ctx.inventory;
  const calico = ctx.bundle ? ctx.bundle.calicoManifest : await inventoryCalicoManifest(inv);
  // the server address is part of no workload's identity: any will do
  return addonState(api, addonWorkloads(addonObjects(inv, 'https://api.invalid:6443', calico)), inv.cluster.addons.metricsServer);
}

const summary = (state: AddonState) => problemsByCause(state).map(formatAddonProblem);

export const addonsReadyPhase: Phase<Payload> = {
  name: 'addons-ready',
  title: "the add-ons' state: each Ready, or why not",
  description:
    'Reads the add-ons through the API: each workload Ready, or a warning per pod naming why not (ImagePullBackOff with the image and registry, CrashLoopBackOff with its last log lines, unschedulable with the reason) and the metrics API; with cluster.addons.waitReady (--wait-addons) waits for them with that limit.',
  selectHosts: onLeader,
  // the add-ons were created (and their nodes joined) by the phases before
  readsOtherHosts: true,
  async plan(ctx, target) {
    const state = await withApi(target, (api) => currentState(ctx, api));
    if (!state || state.problems.length === 0) return { changes: [] };
    const wait = ctx.inventory.cluster.addons.waitReady;
    if (!wait)
      return {
        changes: [],
        warnings: [
          ...summary(state).map((p) => `add-on not Ready: ${p}`),
          'apply --wait-addons (or cluster.addons.waitReady) waits for the add-ons, with a limit',
        ],
      };
    const seconds = durationSeconds(wait);
    return {
      changes: [
        {
          target: 'add-ons',
          summary: `wait until Ready, at most ${wait}: ${state.problems.length} not Ready (${[...new Set(state.problems.map((p) => p.workload))].join(', ')})`,
          payload: { kind: 'wait', seconds },
        },
      ],
    };
  },
  async apply(ctx, target, changes) {
    const seconds = changes[0]!.payload.seconds;
    let last: AddonState | undefined;
    let finalSince: number | undefined;
    ctx.progress(target.spec.name, `waiting for the add-ons to be Ready (at most ${seconds} s)`);
    await withApi(target, (api) =>
      pollUntil(
        async () => {
          last = await currentState(ctx, api);
          if (last.problems.length === 0) return true;
          // every add-on still not Ready is held back by a problem waiting will not end: stop now, not at the limit
          finalSince = willNotBecomeReady(last) ? (finalSince ?? Date.now()) : undefined;
          if (finalSince !== undefined && Date.now() - finalSince >= FINAL_FOR_MS)
            throw new Error(`the add-ons will not become Ready by waiting:\n${summary(last).join('\n')}`);
          return false;
        },
        {
          timeoutMs: seconds * 1000,
          intervalMs: POLL_MS,
          failure: () => `the add-ons were not Ready within ${seconds} s:\n${summary(last!).join('\n')}`,
        },
      ),
    );
  },
};
