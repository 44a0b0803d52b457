/**
 * kubestrap apply joins the inventory's workers itself (kubeadm's join: fresh bootstrap token,
 * TLS bootstrap): all three nodes Ready, a pod on each worker Running and reachable from the
 * other; a second apply changes nothing; a worker that left is joined again by the next apply,
 * the others untouched.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { runCli, tempDir } from '../lab/helpers.js';
import { startClusterLab, type ClusterLab } from './cluster-lab.js';
import { e2eInventory } from './inventory.js';
import { busyboxPod, kubectl } from './kubectl.js';

let cluster: ClusterLab;
let inventory: string;
const home = tempDir('e2e-join-home');
const env = { KUBESTRAP_HOME: home };
let kubeconfig = '';

type Report = { hosts: Array<{ name: string; changes: Array<{ phase: string }> }> };

/** Hosts whose join-workers phase made a change, from an apply --report file. */
function joinedHosts(file: string): string[] {
  const report = JSON.parse(readFileSync(join(home, file), 'utf8')) as Report;
  return report.hosts.filter((h) => h.changes.some((c) => c.phase === 'join-workers')).map((h) => h.name).sort();
}

beforeAll(async () => {
  cluster = await startClusterLab({ workers: 2, withCni: true });
  inventory = join(tempDir('e2e-join'), 'inventory.yaml');
  writeFileSync(inventory, e2eInventory(cluster));
});

afterAll(async () => {
  await cluster?.stop();
});

test('the workers join through kubestrap apply: 3 nodes Ready, a pod Running on each worker, pods reach each other across nodes', async () => {
  const result = await runCli(['apply', '-i', inventory, '--report', join(home, 'first.json')], env);
  expect(result.code, result.stdout + result.stderr).toBe(0);
  expect(joinedHosts('first.json')).toEqual(cluster.workers.map((w) => w.name).sort());
  kubeconfig = /^admin kubeconfig: (\S+)/m.exec(result.stdout)![1]!;
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'node', '--all', '--timeout=240s'], 260_000);
  expect((await kubectl(kubeconfig, ['get', 'nodes', '-o', 'name'])).trim().split('\n').sort()).toEqual(cluster.nodes.map((n) => `node/${n.name}`).sort());
  for (const w of cluster.workers) {
    const file = join(home, `probe-${w.name}.json`);
    writeFileSync(file, busyboxPod(`probe-${w.name}`, w.name));
    await kubectl(kubeconfig, ['apply', '-f', file]);
  }
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'pod', '-l', 'app=kubestrap-e2e', '--timeout=180s'], 200_000);
  const pods = JSON.parse(await kubectl(kubeconfig, ['get', 'pods', '-l', 'app=kubestrap-e2e', '-o', 'json'])) as { items: Array<{ metadata: { name: string }; spec: { nodeName: string }; status: { phase: string; podIP: string } }> };
  expect(pods.items.map((p) => [p.spec.nodeName, p.status.phase]).sort()).toEqual(cluster.workers.map((w) => [w.name, 'Running']));
  const ping = await kubectl(kubeconfig, ['exec', pods.items[0]!.metadata.name, '--', 'ping', '-c', '2', '-W', '5', pods.items[1]!.status.podIP]);
  expect(ping).toMatch(/2 packets transmitted, 2 packets received/);
});

test('a second apply changes nothing; a worker that left is joined again by the next apply, the others untouched', async () => {
  const again = await runCli(['apply', '-i', inventory], env);
  expect(again.code, again.stdout + again.stderr).toBe(0);
  expect(again.stdout).toContain('Applied: no changes were needed.');
  const gone = cluster.workers[1]!;
  await cluster.lab.run(gone, 'systemctl stop kubelet && rm -f /etc/kubernetes/kubelet.conf /etc/kubernetes/bootstrap-kubelet.conf && rm -rf /var/lib/kubelet/pki');
  await kubectl(kubeconfig, ['delete', 'node', gone.name]);
  const rejoin = await runCli(['apply', '-i', inventory, '--report', join(home, 'rejoin.json')], env);
  expect(rejoin.code, rejoin.stdout + rejoin.stderr).toBe(0);
  expect(joinedHosts('rejoin.json')).toEqual([gone.name]);
  const report = JSON.parse(readFileSync(join(home, 'rejoin.json'), 'utf8')) as Report;
  expect(report.hosts.find((h) => h.name === cluster.workers[0]!.name)!.changes).toEqual([]);
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', `node/${gone.name}`, '--timeout=240s'], 260_000);
});
