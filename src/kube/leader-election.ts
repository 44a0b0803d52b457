/**
 * The leader of a leader-elected control-plane component after one of its instances restarted.
 * kube-controller-manager and kube-scheduler run their loops in one instance only, the holder of
 * their Lease in kube-system (their default lock from 1.20, kubernetes#94603, and kubeadm sets no
 * other). An instance that stops does not give its Lease up: the others take it only once it has
 * expired (15 s by default), and until a new leader has started its controllers an evicted pod
 * stays in its Service's endpoints and its replacement is neither created nor scheduled. Draining
 * the next node in that window sends clients to pods that have stopped.
 */
import type { ApiClient } from './api-client.js';
import { pollUntil } from '../util/poll.js';
import { printable } from '../log/redact.js';

export const LEADER_ELECTED = ['kube-controller-manager', 'kube-scheduler'] as const;
export type LeaderElected = (typeof LEADER_ELECTED)[number];

const LEASE_POLL_MS = 500;

interface LeaseView {
  spec?: { holderIdentity?: string; renewTime?: string };
}

async function readLease(api: ApiClient, component: LeaderElected): Promise<LeaseView['spec']> {
  const lease = (await api.get({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace: 'kube-system', name: component })) as
    LeaseView | undefined;
  return lease?.spec;
}

/**
 * Waits, from a moment when the restarted instance already runs, until `component`'s Lease is
 * renewed: only a running leader renews, so a renewal seen after that moment proves one, by
 * no clock but the Lease's own. Returns the leader's identity and how long it took.
 */
export async function awaitRenewingLeader(
  api: ApiClient,
  component: LeaderElected,
  timeoutMs: number,
): Promise<{ holder: string; waitedMs: number }> {
  const started = Date.now();
  // this first read too may reach an API server just restarted behind the balancer: it is retried
  const { spec: before } = await pollUntil(async () => ({ spec: await readLease(api, component) }), {
    timeoutMs,
    intervalMs: LEASE_POLL_MS,
    ignoreErrors: true,
    failure: () =>
      `the Lease kube-system/${component} cannot be read ${timeoutMs / 1000} s after its restart (kubectl -n kube-system get lease ${component})`,
  });
  let last = before;
  const holder = await pollUntil(
    async () => {
      last = await readLease(api, component);
      return last?.renewTime && last.renewTime !== before?.renewTime ? printable(last.holderIdentity ?? '(none)') : undefined;
    },
    {
      // one limit for both waits
      timeoutMs: timeoutMs - (Date.now() - started),
      intervalMs: LEASE_POLL_MS,
      ignoreErrors: true,
      failure: () =>
        `no ${component} leads ${timeoutMs / 1000} s after its restart: its Lease kube-system/${component} was last renewed ` +
        `${last?.renewTime ? `at ${printable(last.renewTime)} by ${printable(last.holderIdentity ?? '(none)')}` : 'never'} ` +
        `(kubectl -n kube-system get lease ${component}; /var/log/pods/kube-system_${component}-* on each control plane)`,
    },
  );
  return { holder, waitedMs: Date.now() - started };
}
