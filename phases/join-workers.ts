/**
 * join-workers: every worker of the inventory that is not part of the cluster yet gets the
 * cluster CA, a kubelet.conf with its own client certificate (issued by kubestrap from the CA, as
 * kubeadm does for a control plane's kubelet: no bootstrap token, no wait for the
 * controller-manager to approve and sign a request), the kubelet's files, and its kubelet started.
 * It needs the CA only, not the API, so it runs while the first control plane is still coming up;
 * the kubelet registers its Node as soon as the API answers, and worker-nodes confirms and marks
 * it. A worker whose kubelet.conf exists has joined (or is finishing) and is left alone.
 */
import { startWorkerKubelet, workerJoinState } from '../src/join/worker-kubelet.js';
import { membershipPlan } from '../src/join/membership-plan.js';
import type { Phase } from '../src/kit/phase.js';
import { leader, workers } from '../src/kit/hosts.js';

export const joinWorkersPhase: Phase<null> = {
  name: 'join-workers',
  title: 'workers joined: CA, kubelet.conf with a certificate from the cluster CA, kubelet started',
  description:
    "Joins every worker that has no kubelet.conf: the cluster CA, a kubelet client certificate issued from it, the kubelet's files, the kubelet started (it registers once the API answers).",
  selectHosts: workers,
  async plan(_ctx, target) {
    const joined = (await workerJoinState(target)) !== 'not started';
    return membershipPlan(joined, 'join as a worker (kubelet client certificate from the cluster CA, kubelet started)');
  },
  async apply(ctx, target) {
    await startWorkerKubelet(ctx.inventory, target, leader(ctx, "its CA signs the workers' certificates"));
  },
};
