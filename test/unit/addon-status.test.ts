import { describe, expect, test } from 'vitest';
import { crashLogLines, problemsByCause, willNotBecomeReady, type AddonProblem, type Pod } from '../../src/kube/addon-status.js';

const pull: AddonProblem = {
  workload: 'Deployment kube-system/metrics-server',
  pod: 'metrics-server-a',
  problem: 'ImagePullBackOff: image registry.local/metrics-server:v0.7.2 cannot be pulled',
  final: true,
};
const creating: AddonProblem = {
  workload: 'Deployment kube-system/metrics-server',
  pod: 'metrics-server-b',
  problem: 'Pending (ContainerCreating)',
  final: false,
};
const dns: AddonProblem = {
  workload: 'Deployment kube-system/coredns',
  pod: 'coredns-a',
  problem: 'container coredns is running but not ready yet',
  final: false,
};
const api: AddonProblem = {
  workload: 'APIService v1beta1.metrics.k8s.io',
  problem: 'not available: no endpoints',
  final: true,
  secondary: true,
};
/** What CI's join run listed first: the replica no node took beside its sibling stuck on the image. */
const unplaced: AddonProblem = {
  workload: 'Deployment kube-system/metrics-server',
  pod: 'metrics-server-0',
  problem: "cannot be scheduled: 0/3 nodes are available: 2 node(s) didn't match pod anti-affinity rules.",
  final: true,
  secondary: true,
};

describe('when waiting for the add-ons ends early', () => {
  test('a workload with one pod whose image is not there will not become Ready, whatever its other pods are doing', () => {
    expect(willNotBecomeReady({ ready: [], problems: [creating, pull, api] })).toBe(true);
  });
  test('another workload still starting keeps the wait going', () => {
    expect(willNotBecomeReady({ ready: [], problems: [pull, creating, api, dns] })).toBe(false);
  });
  test('nothing wrong is not a reason to stop waiting', () => {
    expect(willNotBecomeReady({ ready: ['Deployment kube-system/coredns'], problems: [] })).toBe(false);
  });
  test('the problems waiting will not end come first, in their order', () => {
    expect(problemsByCause({ ready: [], problems: [creating, dns, pull, api] })).toEqual([pull, api, creating, dns]);
  });
  test('of those, the cause comes before what often follows from it: the image before the replica no node takes and the metrics API', () => {
    expect(problemsByCause({ ready: [], problems: [unplaced, creating, api, pull] })).toEqual([pull, unplaced, api, creating]);
  });
});

describe("a crashing container's last log lines", () => {
  const pod: Pod = { metadata: { name: 'coredns-a', namespace: 'kube-system' }, spec: { containers: [] }, status: {} };
  /** A FAKE API server's log endpoint: the answer for the previous run and for the current one; the paths asked are kept. */
  const logs = (previous: string, current: string) => {
    const asked: string[] = [];
    const api = {
      request: (_method: string, path: string) => {
        asked.push(path);
        return Promise.resolve({ status: 200, body: path.includes('previous=true') ? previous : current });
      },
    };
    return { api, asked };
  };
  const gone = 'unable to retrieve container logs for containerd://c676b069f5bf';

  test("are the previous run's, asked once", async () => {
    const { api, asked } = logs('[INFO] plugin/reload\nplugin/forward: no nameservers found\n', 'unused');
    expect(await crashLogLines(api, pod, 'coredns')).toEqual(['[INFO] plugin/reload', 'plugin/forward: no nameservers found']);
    expect(asked).toEqual(['/api/v1/namespaces/kube-system/pods/coredns-a/log?container=coredns&previous=true&tailLines=5']);
  });
  test("are the current run's when the kubelet has just removed the previous one (seen in CI: its message was shown as the log)", async () => {
    const { api, asked } = logs(gone, 'plugin/forward: no nameservers found\n');
    expect(await crashLogLines(api, pod, 'coredns')).toEqual(['plugin/forward: no nameservers found']);
    expect(asked[1]).toBe('/api/v1/namespaces/kube-system/pods/coredns-a/log?container=coredns&tailLines=5');
  });
  test('say so when the kubelet has neither, instead of passing its message off as the log', async () => {
    const { api } = logs(gone, gone);
    expect(await crashLogLines(api, pod, 'coredns')).toEqual(['(the kubelet has no log of it yet)']);
  });
});
