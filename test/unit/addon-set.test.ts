/**
 * Disruption budgets and a second metrics-server come only with two nodes that can hold the pods
 * while one is drained: a budget with one such node would hold a drain forever. A taint of the
 * inventory (other than PreferNoSchedule) keeps these pods off a node.
 */
import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/load.js';
import { addonObjects } from '../../src/kube/addon-set.js';

async function objects(hosts: string): Promise<{ budgets: string[]; metricsReplicas: unknown }> {
  const text = `apiVersion: kubestrap.dev/v1alpha1
kind: Cluster
hosts:
${hosts}
cluster:
  kubernetesVersion: v1.33.1
  addons: {metricsServer: true}
`;
  const { inventory } = await parseInventory(text, 'test.yaml', { checkKeyFiles: false });
  const all = addonObjects(inventory, 'https://10.0.0.1:6443', undefined);
  const deployment = all.find((o) => o.kind === 'Deployment' && o.metadata.name === 'metrics-server') as unknown as {
    spec: { replicas?: number };
  };
  return {
    budgets: all.filter((o) => o.kind === 'PodDisruptionBudget').map((o) => o.metadata.name),
    metricsReplicas: deployment.spec.replicas,
  };
}

const CP = '  - {name: cp-1, address: 10.0.0.1, roles: [control-plane]}';
const worker = (n: number, taint = '') => `  - {name: worker-${n}, address: 10.0.0.${n + 1}, roles: [worker]${taint}}`;

describe('add-ons for the nodes that can hold them', () => {
  it('one control plane alone: no budget, one metrics-server', async () => {
    expect(await objects(CP)).toEqual({ budgets: [], metricsReplicas: undefined });
  });

  it('a control plane and a worker: CoreDNS (which tolerates the control plane) gets a budget; metrics-server, on one worker, stays single', async () => {
    expect(await objects([CP, worker(1)].join('\n'))).toEqual({ budgets: ['coredns'], metricsReplicas: undefined });
  });

  it('two untainted workers: both budgets and two metrics-servers', async () => {
    expect(await objects([CP, worker(1), worker(2)].join('\n'))).toEqual({
      budgets: ['coredns', 'metrics-server'],
      metricsReplicas: 2,
    });
  });

  it('a worker with a NoSchedule or NoExecute taint holds none of them; a PreferNoSchedule one does', async () => {
    const hard = ', taints: [{key: example.com/dedicated, value: batch, effect: NoExecute}]';
    expect(await objects([CP, worker(1), worker(2, hard)].join('\n'))).toEqual({ budgets: ['coredns'], metricsReplicas: undefined });
    const soft = ', taints: [{key: example.com/dedicated, value: batch, effect: PreferNoSchedule}]';
    expect(await objects([CP, worker(1), worker(2, soft)].join('\n'))).toEqual({
      budgets: ['coredns', 'metrics-server'],
      metricsReplicas: 2,
    });
  });
});
