/**
 * worker-nodes: the second half of a worker's join, once the API answers: its kubelet running,
 * its Node registered, the inventory's labels on it (its taints it registered with itself), its
 * kubelet serving certificate approved when metrics-server relies on it; then the join's marker
 * goes. A worker without the marker has joined and costs no API call.
 */
import { requireApi } from '../src/kube/admin-api.js';
import { approveWhenAsked, markInventoryNode, nodeIdentities } from '../src/kube/node-marking.js';
import { workerJoinState } from '../src/join/worker-kubelet.js';
import { requireService } from '../src/facts/services.js';
import { pollUntil } from '../src/util/poll.js';
import type { Phase } from '../src/kit/phase.js';
import { leader, workers } from '../src/kit/hosts.js';
import { JOIN_PENDING } from '../templates/paths.js';

const REGISTER_WAIT_MS = 180_000;

export const workerNodesPhase: Phase<null> = {
  name: 'worker-nodes',
  title: "joined workers' Nodes registered, labelled, serving certificates approved",
  description:
    'For each worker whose join is unfinished: the kubelet running, its Node registered, the inventory labels set, its kubelet serving certificate approved (metrics-server).',
  selectHosts: workers,
  async plan(_ctx, target) {
    if ((await workerJoinState(target)) === 'joined') return { changes: [] };
    return {
      changes: [
        {
          target: `Node ${target.spec.nodeName}`,
          summary: 'await its registration, set the inventory labels, approve its serving certificate',
          payload: null,
        },
      ],
    };
  },
  async apply(ctx, target) {
    const node = target.spec.nodeName;
    // a run stopped between join-workers' files and its start of the kubelet left it stopped
    await target.host.check(requireService(target.facts.initSystem, 'kubelet').enableNow());
    await requireApi(
      leader(ctx, 'workers register through its API'),
      'the control plane must be up for a worker to register',
      async (api) => {
        await pollUntil(() => api.get({ apiVersion: 'v1', kind: 'Node', name: node }), {
          timeoutMs: REGISTER_WAIT_MS,
          failure: () =>
            `${node}'s kubelet did not register its Node within ${REGISTER_WAIT_MS / 1000} s (see journalctl -u kubelet on ${target.spec.name})`,
        });
        await markInventoryNode(api, ctx.inventory, node);
        if (ctx.inventory.cluster.addons.metricsServer && !ctx.inventory.cluster.addons.metricsServerInsecureTLS)
          await approveWhenAsked(api, node, nodeIdentities(ctx.inventory).get(node));
      },
    );
    await target.host.check(`rm -f ${JOIN_PENDING}`);
  },
};
