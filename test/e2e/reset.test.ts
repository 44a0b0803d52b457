/**
 * `kubestrap etcd backup|restore`, `remove-node` and `reset` on a real cluster: a namespace
 * deleted after a backup is back after the restore; a removed worker is drained, reset and its
 * Node gone; --dry-run lists what would go and changes nothing; without
 * a terminal it refuses unless --yes; the reset leaves no trace of Kubernetes on any host
 * (files, kubelet state and mounts, etcd data, containers, CNI configuration and interfaces,
 * kube-proxy and CNI rules; the kubelet stopped and disabled), a second reset has nothing to
 * do, and a re-apply gives a Ready cluster again; adding a worker to the inventory and applying
 * changes nothing on the other hosts.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { parse, stringify } from 'yaml';
import { runCli, tempDir } from '../lab/helpers.js';
import { startClusterLab, type ClusterLab } from './cluster-lab.js';
import { e2eInventory } from './inventory.js';
import { kubectl } from './kubectl.js';
import { clean, traces } from './traces.js';

let cluster: ClusterLab;
let inventory: string;
const work = tempDir('e2e-reset');
const env = { KUBESTRAP_HOME: join(work, 'home') };

beforeAll(async () => {
  cluster = await startClusterLab({ workers: 1 });
  inventory = join(work, 'inventory.yaml');
  // no metrics-server: its image cannot exist here, and an APIService that never answers blocks
  // namespace deletion (the namespace controller needs every API group's discovery)
  writeFileSync(inventory, e2eInventory(cluster, { addons: { metricsServer: false } }));
});

afterAll(async () => {
  await cluster?.stop();
});

async function upAndReady(file = inventory): Promise<string> {
  const up = await runCli(['apply', '-i', file], env);
  expect(up.code, up.stdout + up.stderr).toBe(0);
  const kubeconfig = /^admin kubeconfig: (\S+)/m.exec(up.stdout)![1]!;
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'node', '--all', '--timeout=240s'], 260_000);
  return kubeconfig;
}

test('reset --dry-run lists what would go and changes nothing; without a terminal, reset needs --yes', async () => {
  const kubeconfig = await upAndReady();
  const dry = await runCli(['reset', '-i', inventory, '--dry-run', '--output', 'plain'], env);
  expect(dry.code, dry.stdout + dry.stderr).toBe(0);
  expect(dry.stdout).toMatch(/cp-1:[\s\S]*\/var\/lib\/etcd\/member: remove/);
  expect(dry.stdout).toMatch(/service kubelet: stop and disable/);
  expect(dry.stdout).toMatch(/iptables: remove \d+ rules/);
  const refused = await runCli(['reset', '-i', inventory], env);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain('pass --yes to confirm');
  expect((await kubectl(kubeconfig, ['get', 'nodes', '-o', 'name'])).trim().split('\n')).toHaveLength(2);
});

test('etcd backup (with its checksum), a namespace deleted, etcd restore: the namespace is back', async () => {
  const kubeconfig = await upAndReady();
  await kubectl(kubeconfig, ['create', 'namespace', 'kept-by-backup']);
  const snapshot = join(work, 'snapshot.db');
  const backup = await runCli(['etcd', 'backup', '-i', inventory, '--out', snapshot], env);
  expect(backup.code, backup.stdout + backup.stderr).toBe(0);
  const sum = createHash('sha256').update(readFileSync(snapshot)).digest('hex');
  expect(readFileSync(`${snapshot}.sha256`, 'utf8')).toBe(`${sum}  snapshot.db\n`);
  // etcd's own tool reads the snapshot (Debian's etcdctl on this machine)
  expect(
    execFileSync('etcdctl', ['snapshot', 'status', snapshot, '-w', 'json'], {
      env: { ...process.env, ETCDCTL_API: '3' },
      encoding: 'utf8',
    }),
  ).toMatch(/"totalKey":\d+/);
  await kubectl(kubeconfig, ['delete', 'namespace', 'kept-by-backup', '--wait=true', '--timeout=120s'], 140_000);
  const restore = await runCli(['etcd', 'restore', snapshot, '-i', inventory, '--yes', '--output', 'plain'], env);
  expect(restore.code, restore.stdout + restore.stderr).toBe(0);
  expect((await kubectl(kubeconfig, ['get', 'namespace', 'kept-by-backup', '-o', 'jsonpath={.status.phase}'])).trim()).toBe('Active');
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'node', '--all', '--timeout=240s'], 260_000);
});

test('remove-node: the worker is drained, reset and its Node deleted; the control plane keeps running', async () => {
  const kubeconfig = await upAndReady();
  const worker = cluster.workers[0]!;
  const removed = await runCli(['remove-node', worker.name, '-i', inventory, '--yes', '--output', 'plain'], env);
  expect(removed.code, removed.stdout + removed.stderr).toBe(0);
  expect(removed.stdout).toContain(`${worker.name} has left the cluster`);
  expect((await kubectl(kubeconfig, ['get', 'nodes', '-o', 'name'])).trim()).toBe(`node/${cluster.controlPlane.name}`);
  expect(traces(cluster, worker)).toEqual(clean(cluster, worker));
});

test('reset --yes leaves no trace of Kubernetes on any host, not even the failed unit of a kubelet that exits with an error when stopped; a second reset has nothing to do', async () => {
  // the kubelet told to stop by SIGQUIT, on which Go exits with status 2: systemd then keeps the
  // unit `failed` (seen in CI on an HA worker); a runtime drop-in, which no reset trace lists
  const dropIn = '/run/systemd/system/kubelet.service.d/zz-exit-with-error.conf';
  await cluster.lab.run(
    cluster.controlPlane,
    `mkdir -p ${dirname(dropIn)} && printf '[Service]\\nKillSignal=SIGQUIT\\n' > ${dropIn} && systemctl daemon-reload && systemctl restart kubelet`,
  );
  const reset = await runCli(['reset', '-i', inventory, '--yes', '--output', 'plain'], env);
  await cluster.lab.run(cluster.controlPlane, `rm -f ${dropIn} && systemctl daemon-reload`);
  expect(reset.code, reset.stdout + reset.stderr).toBe(0);
  for (const node of cluster.nodes) expect(traces(cluster, node), node.name).toEqual(clean(cluster, node));
  const again = await runCli(['reset', '-i', inventory, '--yes'], env);
  expect(again.code).toBe(0);
  expect(again.stdout).toContain('Applied: no changes were needed.');
});

test("after a reset, apply brings a Ready cluster up again; adding the worker to the inventory then joins the worker, and the control plane's only change is CoreDNS's disruption budget (a second node can now hold a replica)", async () => {
  // the pod network's configuration comes back with its add-on (Flannel's DaemonSet writes it on each node)
  const full = parse(readFileSync(inventory, 'utf8')) as { hosts: Array<{ name: string }> };
  const controlPlaneOnly = join(work, 'control-plane-only.yaml');
  writeFileSync(controlPlaneOnly, stringify({ ...full, hosts: full.hosts.filter((h) => h.name === cluster.controlPlane.name) }));
  const kubeconfig = await upAndReady(controlPlaneOnly);
  expect((await kubectl(kubeconfig, ['get', 'nodes', '-o', 'name'])).trim()).toBe(`node/${cluster.controlPlane.name}`);

  const report = join(work, 'scale-out.json');
  const scaleOut = await runCli(['apply', '-i', inventory, '--report', report], env);
  expect(scaleOut.code, scaleOut.stdout + scaleOut.stderr).toBe(0);
  const hosts = (
    JSON.parse(readFileSync(report, 'utf8')) as { hosts: Array<{ name: string; changes: Array<{ phase: string; target: string }> }> }
  ).hosts;
  const worker = cluster.workers[0]!;
  expect(hosts.find((h) => h.name === cluster.controlPlane.name)!.changes).toEqual([
    { phase: 'cluster-objects', target: 'PodDisruptionBudget kube-system/coredns', summary: 'create' },
  ]);
  expect(hosts.find((h) => h.name === worker.name)!.changes.map((c) => c.phase)).toContain('join-workers');
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', `node/${worker.name}`, '--timeout=240s'], 260_000);
});
