/**
 * An evicted metrics-server replica keeps serving for a while before it is told to stop, from the
 * release whose kubelets sleep in a preStop hook by default (1.30); before it nothing can hold it:
 * its image has no sleep binary and v0.7.2 no shutdown delay.
 */
import { expect, it } from 'vitest';
import { metricsServerObjects } from '../../src/kube/metrics-server.js';

function preStopOf(minor: number): unknown {
  const deployment = metricsServerObjects({ imageRepository: 'registry.k8s.io', insecureTls: false, minor, highAvailability: true }).find(
    (o) => o.kind === 'Deployment',
  ) as unknown as { spec: { template: { spec: { containers: Array<{ lifecycle?: unknown }> } } } };
  return deployment.spec.template.spec.containers[0]!.lifecycle;
}

it('1.29: no preStop hook (the sleep action is off by default); 1.30: a 10 s sleep before the stop signal', () => {
  expect(preStopOf(29)).toBeUndefined();
  expect(preStopOf(30)).toEqual({ preStop: { sleep: { seconds: 10 } } });
});
