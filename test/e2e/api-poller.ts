/** The cluster polled from a node while work runs: what an operator's clients saw meanwhile. */
import { messageOf } from '../../src/util/errors.js';
import { quote } from '../../src/transport/quote.js';
import type { LabHost } from '../lab/lab.js';
import type { ClusterLab } from './cluster-lab.js';

export interface Polled<T> {
  readonly result: T;
  readonly polls: number;
  /** Each failed poll, with its time. */
  readonly failures: string[];
  /** Whether the last poll, after the work ended, was answered. */
  readonly answeringAfter: boolean;
  /** How long the work took (printed by the tests, never asserted). */
  readonly elapsedMs: number;
}

/** What whilePollingTheApi asks, as the test reports name it. */
export const API_POLL = "reads of the node's own Node object";

/**
 * Reads `node`'s own Node object every 500 ms with its kubelet credentials (through its balancer,
 * when it has one): a quorum read from etcd, as a client's GET is. Not /livez: its etcd check
 * gives up after 2 s, so an etcd slowed by a busy disk fails it while clients are still answered;
 * a client gives up after 10 s here, so an API that stops answering is still a failed poll.
 */
export function whilePollingTheApi<T>(cluster: ClusterLab, node: LabHost, work: () => Promise<T>): Promise<Polled<T>> {
  const read = `kubectl --kubeconfig /etc/kubernetes/kubelet.conf --request-timeout=10s get --raw ${quote(`/api/v1/nodes/${node.name}`)}`;
  return whilePolling(cluster, node, read, work);
}

/** Runs `command` on `node` every 500 ms while `work` runs; a command that fails is a failed poll. */
export async function whilePolling<T>(cluster: ClusterLab, node: LabHost, command: string, work: () => Promise<T>): Promise<Polled<T>> {
  let polls = 0;
  const failures: string[] = [];
  let polling = true;
  const poll = () =>
    cluster.lab.run(node, command).then(
      () => undefined,
      (err: unknown) => `${new Date().toISOString()} ${messageOf(err)}`,
    );
  const poller = (async () => {
    while (polling) {
      polls++;
      const failure = await poll();
      if (failure) failures.push(failure);
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  const started = Date.now();
  try {
    const result = await work();
    const elapsedMs = Date.now() - started;
    polling = false;
    await poller;
    return { result, polls, failures, answeringAfter: (await poll()) === undefined, elapsedMs };
  } finally {
    polling = false;
    await poller;
  }
}

/**
 * What `command` prints on `node`, asked every second until `stop`: each answer unlike the one
 * before, with the time it was first seen — a node's state to set beside a failure's time.
 */
export function recordChanges(cluster: ClusterLab, node: LabHost, command: string): { stop(): Promise<string[]> } {
  const changes: string[] = [];
  let last: string | undefined;
  let recording = true;
  const recorder = (async () => {
    while (recording) {
      const now = await cluster.lab.run(node, command).then(
        (out) => out.trim(),
        (err: unknown) => `(${messageOf(err)})`,
      );
      if (now !== last) changes.push(`${new Date().toISOString()} ${(last = now)}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  return {
    async stop() {
      recording = false;
      await recorder;
      return changes;
    },
  };
}
