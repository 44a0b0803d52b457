/**
 * Draining a node like `kubectl drain --ignore-daemonsets --delete-emptydir-data`: cordoned,
 * then every pod that a controller would recreate elsewhere evicted (PodDisruptionBudgets
 * honoured, retried while one blocks); DaemonSet pods and static (mirror) pods stay, as they
 * belong to the node.
 */
import type { ApiClient } from './api-client.js';
import { pollUntil } from '../util/poll.js';

const DRAIN_WAIT_MS = 300_000;

interface PodRef {
  readonly namespace: string;
  readonly name: string;
}

const refText = (pod: PodRef) => `${pod.namespace}/${pod.name}`;

function evictable(pod: Record<string, unknown>): boolean {
  const meta = pod.metadata as { ownerReferences?: Array<{ kind: string }>; annotations?: Record<string, string> };
  if (meta.annotations?.['kubernetes.io/config.mirror']) return false;
  if (meta.ownerReferences?.some((o) => o.kind === 'DaemonSet')) return false;
  const phase = (pod.status as { phase?: string } | undefined)?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed';
}

async function podsOn(api: ApiClient, node: string): Promise<PodRef[]> {
  const pods = await api.list(`/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${node}`)}`);
  return pods.filter(evictable).map((p) => {
    const m = p.metadata as { namespace: string; name: string };
    return { namespace: m.namespace, name: m.name };
  });
}

/**
 * Drains `node`; `progress` hears, as kubectl drain prints them, each pod evicted and each pod
 * gone, with the seconds since its eviction (a pod that ignores SIGTERM takes its whole grace period).
 */
export async function drainNode(api: ApiClient, node: string, progress: (line: string) => void = () => {}): Promise<number> {
  await api.patch({ apiVersion: 'v1', kind: 'Node', name: node }, { spec: { unschedulable: true } });
  // evicted pods not yet gone, with when: an evicted pod is terminating and needs no second eviction
  const going = new Map<string, number>();
  let evicted = 0;
  let remaining: Awaited<ReturnType<typeof podsOn>> = [];
  return pollUntil(
    async () => {
      remaining = await podsOn(api, node);
      const left = new Set(remaining.map(refText));
      for (const [pod, at] of going) {
        if (left.has(pod)) continue;
        progress(`pod ${pod} gone ${((Date.now() - at) / 1000).toFixed(1)} s after its eviction`);
        going.delete(pod);
      }
      if (remaining.length === 0) return evicted;
      for (const pod of remaining.filter((p) => !going.has(refText(p)))) {
        // 429: a disruption budget says not now; try again on the next round
        if (await api.evict(pod.namespace, pod.name).catch((err: { status?: number }) => (err.status === 429 ? false : Promise.reject(err)))) {
          going.set(refText(pod), Date.now());
          evicted++;
          progress(`evicting pod ${refText(pod)}`);
        }
      }
      return undefined;
    },
    { timeoutMs: DRAIN_WAIT_MS, intervalMs: 1000, failure: () => `${node} still runs ${remaining.map(refText).join(', ')} after ${DRAIN_WAIT_MS / 1000} s (a PodDisruptionBudget may forbid evicting them)` },
  );
}
