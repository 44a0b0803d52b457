/**
 * kubelet-restart (`kubestrap etcd restore`, after etcd-restore): every node's kubelet restarted.
 * A kubelet sends a pod's status only when it differs from what it sent last, so the older
 * statuses a restore put back stay in the API until it restarts: a CoreDNS pod Ready since the
 * snapshot stays unready there, its disruption budget allows no eviction, and a drain waits in
 * vain. Kubernetes' etcd documentation asks for the kubelets to be restarted after a restore.
 */
import { requireService } from '../src/facts/services.js';
import type { Phase } from '../src/kit/phase.js';

export const kubeletRestartPhase: Phase<null> = {
  name: 'kubelet-restart',
  title: "every node's kubelet restarted, to report its pods again",
  description: 'Restarts the kubelet on every node, so that the pod statuses in the restored cluster are the ones the nodes run.',
  selectHosts: (ctx) => ctx.hosts,
  plan: () =>
    Promise.resolve({
      changes: [{ target: 'service kubelet', summary: 'restart (the pod statuses in the API predate the restore)', payload: null }],
    }),
  async apply(_ctx, target) {
    await target.host.check(requireService(target.facts.initSystem, 'kubelet').restart());
  },
};
