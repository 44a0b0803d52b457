/** The API polled from a node while work runs: what an operator's clients saw meanwhile. */
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

/** Polls /livez every 500 ms with `node`'s kubelet credentials (through its balancer, when it has one). */
export async function whilePollingTheApi<T>(cluster: ClusterLab, node: LabHost, work: () => Promise<T>): Promise<Polled<T>> {
  let polls = 0;
  const failures: string[] = [];
  let polling = true;
  const livez = () => cluster.lab.run(node, 'kubectl --kubeconfig /etc/kubernetes/kubelet.conf get --raw /livez').then(() => undefined, (err: Error) => `${new Date().toISOString()} ${err.message}`);
  const poller = (async () => {
    while (polling) {
      polls++;
      const failure = await livez();
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
    return { result, polls, failures, answeringAfter: (await livez()) === undefined, elapsedMs };
  } finally {
    polling = false;
    await poller;
  }
}
