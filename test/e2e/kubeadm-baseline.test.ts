/**
 * Baseline: the reference kubeadm 1.20.2 (built from Debian's source; test infrastructure, not
 * part of kubestrap) bootstraps the e2e lab's nodes, driven over SSH the way its users drive it.
 * Proves the lab itself is sound before kubestrap is measured on it: all nodes Ready, a pod on
 * each worker Running, pods reach each other across nodes.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Host } from '../../src/transport/host.js';
import { openLabHost } from '../lab/helpers.js';
import { installLabCni, startClusterLab, type ClusterLab } from './cluster-lab.js';
import { kubeadmInit, kubeadmJoin, prepareKubeadmNode } from './kubeadm-cluster.js';
import { askBootstrapRbac, expectedBootstrapRbac } from './bootstrap-rbac.js';
import { busyboxPod, kubectl } from './kubectl.js';

let cluster: ClusterLab;
let hosts: Map<string, Host>;
const kubeconfig = join(mkdtempSync(join(tmpdir(), 'kubestrap-e2e-')), 'admin.conf');

beforeAll(async () => {
  cluster = await startClusterLab({ workers: 2 });
  hosts = new Map(await Promise.all(cluster.nodes.map(async (n) => [n.name, await openLabHost(cluster.lab, n)] as const)));
});

afterAll(async () => {
  for (const host of hosts?.values() ?? []) await host.close();
  await cluster?.stop();
});

test("the reference kubeadm (with the lab's FAKE ctr-based crictl) 1.20.2 brings the lab up: 3 nodes Ready, a pod Running on each worker, pods reach each other across nodes", async () => {
  await Promise.all([...hosts.values()].map((h) => prepareKubeadmNode(h, cluster.packageMirror)));
  const cp = hosts.get(cluster.controlPlane.name)!;
  const joinCommand = await kubeadmInit(cluster, cp);
  expect(joinCommand).toMatch(/^kubeadm join \S+:6443 --token \S+\s+--discovery-token-ca-cert-hash sha256:[0-9a-f]{64}$/);
  await kubeadmJoin(hosts, cluster.workers, joinCommand);
  await installLabCni(cluster);

  const admin = await cp.readFiles(['/etc/kubernetes/admin.conf']);
  writeFileSync(kubeconfig, admin.get('/etc/kubernetes/admin.conf')!.content, { mode: 0o600 });
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'node', '--all', '--timeout=300s'], 320_000);
  const nodes = JSON.parse(await kubectl(kubeconfig, ['get', 'nodes', '-o', 'json'])) as { items: Array<{ metadata: { name: string }; status: { conditions: Array<{ type: string; status: string }> } }> };
  expect(nodes.items.map((n) => n.metadata.name).sort()).toEqual(cluster.nodes.map((n) => n.name).sort());
  for (const n of nodes.items) expect(n.status.conditions.find((c) => c.type === 'Ready')?.status, n.metadata.name).toBe('True');

  const pods = cluster.workers.map((w) => ({ name: `probe-${w.name}`, node: w.name }));
  for (const pod of pods) {
    const file = join(kubeconfig, '..', `${pod.name}.json`);
    writeFileSync(file, busyboxPod(pod.name, pod.node));
    await kubectl(kubeconfig, ['apply', '-f', file]);
  }
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'pod', '-l', 'app=kubestrap-e2e', '--timeout=180s'], 200_000);
  const running = JSON.parse(await kubectl(kubeconfig, ['get', 'pods', '-l', 'app=kubestrap-e2e', '-o', 'json'])) as { items: Array<{ metadata: { name: string }; spec: { nodeName: string }; status: { phase: string; podIP: string } }> };
  expect(running.items.map((p) => [p.spec.nodeName, p.status.phase]).sort()).toEqual(cluster.workers.map((w) => [w.name, 'Running']));
  const [first, second] = running.items;
  const ping = await kubectl(kubeconfig, ['exec', first!.metadata.name, '--', 'ping', '-c', '2', '-W', '5', second!.status.podIP]);
  expect(ping).toMatch(/2 packets transmitted, 2 packets received/);
  // the RBAC table kubestrap's cluster must answer the same way (control-plane.test.ts)
  expect(await askBootstrapRbac(kubeconfig)).toEqual(expectedBootstrapRbac());
}, 900_000);
