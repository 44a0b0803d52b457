/**
 * Draining a node like `kubectl drain --ignore-daemonsets --delete-emptydir-data`: cordoned,
 * then every pod that a controller would recreate elsewhere evicted (PodDisruptionBudgets
 * honoured, retried while one blocks); DaemonSet pods and static (mirror) pods stay, as they
 * belong to the node.
 */
import { ApiError, type ApiClient } from './api-client.js';
import { pollUntil } from '../util/poll.js';
import { printable } from '../log/redact.js';

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

/** Every pod bound to `node`, whatever its owner or phase. */
async function podsBoundTo(api: ApiClient, node: string): Promise<Array<Record<string, unknown>>> {
  return api.list(`/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${node}`)}`);
}

const refOf = (pod: Record<string, unknown>): PodRef => {
  const m = pod.metadata as { namespace: string; name: string };
  return { namespace: m.namespace, name: m.name };
};

async function podsOn(api: ApiClient, node: string): Promise<PodRef[]> {
  return (await podsBoundTo(api, node)).filter(evictable).map(refOf);
}

/**
 * Deletes the pods still bound to a Node that was just deleted, at once (grace 0), as the pod
 * garbage collector would 40 s later: a node that joins again sooner would take them over as they
 * were, their init containers counted as done (Flannel's CNI configuration never written again,
 * the node NotReady).
 */
export async function deletePodsOfDeletedNode(api: ApiClient, node: string): Promise<void> {
  for (const pod of (await podsBoundTo(api, node)).map(refOf))
    await api.delete({ apiVersion: 'v1', kind: 'Pod', ...pod }, { gracePeriodSeconds: 0 });
}

/**
 * Drains `node`; `progress` hears, as kubectl drain prints them, each pod evicted and each pod
 * gone, with the seconds since its eviction (a pod that ignores SIGTERM takes its whole grace period).
 */
export async function drainNode(api: ApiClient, node: string, progress: (line: string) => void = () => {}): Promise<number> {
  await api.patch({ apiVersion: 'v1', kind: 'Node', name: node }, { spec: { unschedulable: true } });
  // evicted pods not yet gone, with when: an evicted pod is terminating and needs no second eviction
  const going = new Map<string, number>();
  // the API server's last refusal per pod: which disruption budget, how many pods it needs and has
  const refused = new Map<string, string>();
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
        if (
          await api.evict(pod.namespace, pod.name).catch((err: unknown) => {
            if (err instanceof ApiError && err.status === 429) {
              refused.set(refText(pod), printable(err.message).slice(0, 300));
              return false;
            }
            throw err;
          })
        ) {
          going.set(refText(pod), Date.now());
          evicted++;
          progress(`evicting pod ${refText(pod)}`);
        }
      }
      return undefined;
    },
    {
      timeoutMs: DRAIN_WAIT_MS,
      intervalMs: 1000,
      failure: () => {
        const why = remaining.flatMap((p) => (refused.has(refText(p)) ? [`${refText(p)}: ${refused.get(refText(p))}`] : []));
        return `${node} still runs ${remaining.map(refText).join(', ')} after ${DRAIN_WAIT_MS / 1000} s${why.length ? `; evictions refused: ${why.join('; ')}` : ''} (kubectl get pdb -A shows the budgets and how many of their pods are healthy)`;
      },
    },
  );
}
