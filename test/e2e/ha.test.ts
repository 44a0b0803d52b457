/**
 * Three control planes behind the node-local API load balancer: cp-1 (and the worker) from
 * `kubestrap apply`; cp-2 joins from its own shell with a certificate key (`kubestrap certs
 * upload --print-join-command`, then `kubestrap join --control-plane`); cp-3 joins through the
 * next `kubestrap apply` (the workstation carries the CAs over SSH). etcd then has 3 started
 * members, every node is Ready, the worker still reaches the API through its balancer with
 * cp-1's API server stopped, and another apply changes nothing. Also: certificate expiry and
 * renewal while the API answers; `upgrade plan` refusing to skip a minor; a configuration roll
 * through `upgrade apply` (new flags for every component) while the API answers; and
 * `remove-node` of a control plane while the API answers; the removed control plane joining
 * again; and a reset of the whole cluster at once.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Host } from '../../src/transport/host.js';
import { openLabHost, runCli, tempDir } from '../lab/helpers.js';
import type { LabHost } from '../lab/lab.js';
import { IMAGE_REPOSITORY, KUBESTRAP_INSIDE, startClusterLab, type ClusterLab } from './cluster-lab.js';
import { e2eInventory } from './inventory.js';
import { clean, traces } from './traces.js';
import { kubectl } from './kubectl.js';
import { whilePollingTheApi } from './api-poller.js';

let cluster: ClusterLab;
let inventory: string;
let kubeconfig = '';
const work = tempDir('e2e-ha');
const env = { KUBESTRAP_HOME: join(work, 'home') };
let shell: Host | undefined;

beforeAll(async () => {
  cluster = await startClusterLab({ controlPlanes: 3, workers: 1, withCni: true });
  inventory = join(work, 'inventory.yaml');
  writeInventory('2h');
});

/** The HA inventory; leaf certificates valid `validity` (2 h at first, so that they show as expiring); `cluster` settings on top. */
function writeInventory(validity: string, settings: Record<string, unknown> = {}): void {
  writeFileSync(inventory, e2eInventory(cluster, { apiLoadBalancer: { mode: 'node-local', image: `${IMAGE_REPOSITORY}/haproxy:2.6` }, certificates: { validity }, ...settings }));
}

afterAll(async () => {
  await shell?.close();
  await cluster?.stop();
});

/** [name, started?] of every etcd member, asked on `node` through etcd's own API (its v3 JSON gateway, curl on the node). */
function etcdMembers(node: LabHost): Array<[string, boolean]> {
  const pki = '/etc/kubernetes/pki/etcd';
  const answer = cluster.lab.inside(node, `curl -s --cacert ${pki}/ca.crt --cert ${pki}/healthcheck-client.crt --key ${pki}/healthcheck-client.key -X POST -d '{}' https://127.0.0.1:2379/v3/cluster/member/list`);
  const members = (JSON.parse(answer) as { members: Array<{ name?: string; clientURLs?: string[] }> }).members;
  // a member that has not started has no name and no client URLs yet
  return members.map((m): [string, boolean] => [m.name ?? '', (m.clientURLs ?? []).length > 0]).sort();
}

/** Days until the certificate that the server on the node's local `port` presents expires. */
function servedCertificateDays(node: LabHost, port: number): number {
  const end = cluster.lab.inside(node, `openssl s_client -connect 127.0.0.1:${port} </dev/null 2>/dev/null | openssl x509 -noout -enddate`).trim();
  return (Date.parse(end.replace(/^notAfter=/, '')) - Date.now()) / 86_400_000;
}

/** The node's own API server answers (what the worker's balancer checks too). */
const apiServerLive = (node: LabHost) => cluster.lab.inside(node, 'curl -sk -m 5 https://127.0.0.1:6443/livez').trim();

test('cp-1 and the worker from apply; cp-2 joins from its own shell with a certificate key: etcd has 2 started members', async () => {
  const up = await runCli(['apply', '-i', inventory, '--hosts', 'cp-1,worker-1'], env);
  expect(up.code, up.stdout + up.stderr).toBe(0);
  kubeconfig = /^admin kubeconfig: (\S+)/m.exec(up.stdout)![1]!;
  const upload = await runCli(['certs', 'upload', '--print-join-command', '-i', inventory], env);
  expect(upload.code, upload.stderr).toBe(0);
  const command = upload.stdout.trim();
  expect(command).toMatch(/^kubestrap join 10\.77\.\d+\.10:6443 --token \S+ --discovery-token-ca-cert-hash sha256:[0-9a-f]{64} --control-plane --certificate-key [0-9a-f]{64}$/);
  const secret = JSON.parse(await kubectl(kubeconfig, ['-n', 'kube-system', 'get', 'secret', 'kubeadm-certs', '-o', 'json'])) as { data: Record<string, string>; metadata: { ownerReferences: Array<{ kind: string; name: string }> } };
  expect(Object.keys(secret.data).sort()).toEqual(['ca.crt', 'ca.key', 'etcd-ca.crt', 'etcd-ca.key', 'front-proxy-ca.crt', 'front-proxy-ca.key', 'sa.key', 'sa.pub']);
  expect(secret.metadata.ownerReferences[0]!.name).toMatch(/^bootstrap-token-[a-z0-9]{6}$/);

  const cp2 = cluster.controlPlanes[1]!;
  await cluster.lab.run(cp2, `cat > /root/cluster.yaml <<'EOF'\n${readFileSync(inventory, 'utf8')}\nEOF`);
  shell = await openLabHost(cluster.lab, cp2);
  const joined = await shell.exec(`node ${KUBESTRAP_INSIDE}/bin/kubestrap.js join ${command.replace(/^kubestrap join /, '')} --config /root/cluster.yaml --output plain`, { timeoutMs: 400_000 });
  expect(joined.code, joined.stdout + joined.stderr).toBe(0);
  expect(joined.stdout).toContain('This node has joined the cluster as a control-plane');
  expect(joined.stdout).not.toContain(/--certificate-key (\S+)/.exec(command)![1]!);
  expect(apiServerLive(cp2)).toBe('ok');
  expect(etcdMembers(cp2)).toEqual([['cp-1', true], ['cp-2', true]]);
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', `node/${cp2.name}`, '--timeout=240s'], 260_000);
  // the joining control plane approved its own kubelet serving certificate (nobody else was asked to)
  const csrs = JSON.parse(await kubectl(kubeconfig, ['get', 'csr', '-o', 'json'])) as { items: Array<{ spec: { username: string; signerName: string }; status: { conditions?: Array<{ type: string }> } }> };
  const serving = csrs.items.filter((c) => c.spec.username === `system:node:${cp2.name}` && c.spec.signerName === 'kubernetes.io/kubelet-serving');
  expect(serving.length).toBeGreaterThan(0);
  expect(serving.every((c) => c.status.conditions?.some((k) => k.type === 'Approved'))).toBe(true);
});

test('cp-3 joins through the next apply, the other hosts unchanged: 3 etcd members, 4 nodes Ready', async () => {
  const report = join(work, 'report.json');
  const up = await runCli(['apply', '-i', inventory, '--report', report], env);
  expect(up.code, up.stdout + up.stderr).toBe(0);
  const hosts = (JSON.parse(readFileSync(report, 'utf8')) as { hosts: Array<{ name: string; changes: Array<{ phase: string; target: string }> }> }).hosts;
  expect(hosts.find((h) => h.name === 'cp-3')!.changes.some((c) => c.phase === 'join-control-planes')).toBe(true);
  expect(hosts.find((h) => h.name === 'cp-2')!.changes).toEqual([]);
  expect(hosts.find((h) => h.name === 'worker-1')!.changes).toEqual([]);
  expect(hosts.find((h) => h.name === 'cp-1')!.changes).toEqual([]);
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'node', '--all', '--timeout=240s'], 260_000);
  const nodes = JSON.parse(await kubectl(kubeconfig, ['get', 'nodes', '-o', 'json'])) as { items: Array<{ metadata: { name: string; labels: Record<string, string> } }> };
  expect(nodes.items.filter((n) => 'node-role.kubernetes.io/control-plane' in n.metadata.labels).map((n) => n.metadata.name).sort()).toEqual(['cp-1', 'cp-2', 'cp-3']);
  for (const cp of cluster.controlPlanes) {
    expect(apiServerLive(cp)).toBe('ok');
    expect(etcdMembers(cp)).toEqual([['cp-1', true], ['cp-2', true], ['cp-3', true]]);
  }
  const worker = cluster.workers[0]!;
  expect(cluster.lab.inside(worker, 'grep lb.kubestrap.local /etc/hosts')).toMatch(/^127\.0\.0\.1\s+lb\.kubestrap\.local/m);
  expect(cluster.lab.inside(cluster.controlPlanes[2]!, 'grep lb.kubestrap.local /etc/hosts')).toMatch(/^10\.77\.\d+\.12\s+lb\.kubestrap\.local/m);
  expect(cluster.lab.inside(worker, 'grep server: /etc/kubernetes/kubelet.conf')).toContain('https://lb.kubestrap.local:6443');
});

test("cp-1's API server stopped: the worker still reaches the API through its node-local balancer", async () => {
  const [cp1] = cluster.controlPlanes;
  const worker = cluster.workers[0]!;
  await cluster.lab.run(cp1!, 'mv /etc/kubernetes/manifests/kube-apiserver.yaml /root/kube-apiserver.yaml');
  try {
    // stopped for real: nothing answers on cp-1's API port any more
    await cluster.lab.run(cp1!, `for i in $(seq 1 60); do curl -sk -m 2 https://127.0.0.1:6443/livez >/dev/null || exit 0; sleep 1; done; echo still answering >&2; exit 1`);
    const asWorker = (args: string) => cluster.lab.inside(worker, `kubectl --kubeconfig /etc/kubernetes/kubelet.conf ${args}`).trim();
    for (let i = 0; i < 5; i++) {
      expect(asWorker('get --raw /livez')).toBe('ok');
      expect(asWorker(`get node ${worker.name} -o jsonpath={.metadata.name}`)).toBe(worker.name);
    }
  } finally {
    await cluster.lab.run(cp1!, 'mv /root/kube-apiserver.yaml /etc/kubernetes/manifests/kube-apiserver.yaml');
  }
  await cluster.lab.run(cp1!, 'for i in $(seq 1 120); do curl -sk -m 2 https://127.0.0.1:6443/livez >/dev/null && exit 0; sleep 1; done; exit 1');
});

/** Runs `work` while the worker asks the API for /livez through its balancer every 0.5 s; counts the polls and keeps the failures. */
/** What each control plane's etcd logged about leaders and slow requests: the evidence when a poll failed. */
function etcdLeaderEvents(): string {
  return cluster.controlPlanes
    .map((cp) => `== ${cp.name}\n${cluster.lab.inside(cp, "grep -h -E 'leader|election|took too long|lost' /var/log/pods/kube-system_etcd-*/etcd/*.log 2>/dev/null | tail -40; true")}`)
    .join('\n');
}

/** No poll failed; when one did, the message carries etcd's leader events. */
const noFailures = (failures: readonly string[]) => expect(failures, failures.length ? etcdLeaderEvents() : '').toEqual([]);

type Row = { node: string; name: string; kind: string; residualDays: number };

async function expiration(): Promise<Row[]> {
  const check = await runCli(['certs', 'check-expiration', '-i', inventory, '--output', 'json'], env);
  expect(check.code, check.stderr).toBe(0);
  return JSON.parse(check.stdout) as Row[];
}

test('certificates issued for 2 h show as expiring on every control plane; certs renew all gives them a year, one control plane at a time, while the API answers throughout', async () => {
  const before = await expiration();
  for (const cp of cluster.controlPlanes) {
    expect(before.find((r) => r.node === cp.name && r.name === 'apiserver')!.residualDays).toBe(0);
    expect(before.find((r) => r.node === cp.name && r.name === 'admin.conf')!.residualDays).toBe(0);
    expect(before.find((r) => r.node === cp.name && r.name === 'ca')!.residualDays).toBeGreaterThan(3000);
  }
  // workers have no control-plane certificates, but their kubelet's (rotated by the cluster: a year)
  expect(before.filter((r) => r.node === 'worker-1').map((r) => r.name)).toContain('kubelet client (rotating)');
  // what etcd and the API server present: the 2-hour certificates they started with
  for (const cp of cluster.controlPlanes) for (const port of [2379, 6443]) expect(servedCertificateDays(cp, port), `${cp.name}:${port}`).toBeLessThan(1);
  const table = await runCli(['certs', 'check-expiration', '-i', inventory], env);
  expect(table.stdout).toMatch(/! \d+ expire within 30 days: renew with kubestrap certs renew/);

  writeInventory('8760h');
  const { result: renew, polls, failures, elapsedMs } = await whilePollingTheApi(cluster, cluster.workers[0]!, () => runCli(['certs', 'renew', 'all', '-i', inventory, '--output', 'plain'], env));
  console.log(`certs renew all on 3 control planes: ${(elapsedMs / 1000).toFixed(1)} s, ${polls} polls of /livez through the worker's balancer, ${failures.length} failed`);
  expect(renew.code, renew.stdout + renew.stderr).toBe(0);
  expect(polls).toBeGreaterThan(10);
  noFailures(failures);
  const after = await expiration();
  for (const cp of cluster.controlPlanes) {
    for (const name of ['apiserver', 'apiserver-kubelet-client', 'etcd-server', 'etcd-peer', 'front-proxy-client', 'admin.conf', 'controller-manager.conf', 'scheduler.conf', 'kubelet.conf']) {
      expect(after.find((r) => r.node === cp.name && r.name === name)!.residualDays, `${cp.name} ${name}`).toBeGreaterThanOrEqual(364);
    }
  }
  // each was restarted onto its renewed certificate
  for (const cp of cluster.controlPlanes) for (const port of [2379, 6443]) expect(servedCertificateDays(cp, port), `${cp.name}:${port}`).toBeGreaterThanOrEqual(364);
  // the workstation's admin kubeconfig was refreshed with the renewed client certificate
  expect((await kubectl(kubeconfig, ['get', 'nodes', '-o', 'name'])).trim().split('\n')).toHaveLength(4);
});

/** The configuration roll's new flags, one per component (harmless values, each different from the default). */
const ROLL = {
  apiServer: { extraArgs: { 'event-ttl': '2h' } },
  controllerManager: { extraArgs: { 'node-monitor-grace-period': '45s' } },
  scheduler: { extraArgs: { profiling: 'false' } },
  etcd: { imageTag: undefined as string | undefined, extraArgs: { 'snapshot-count': '5000' } },
  kubelet: { extraArgs: { v: '1' } },
};

/** For each drained node, the longest wait for an evicted pod to go, in seconds, from a run log's drain lines. */
function drainWaits(log: string): Map<string, number> {
  const waits = new Map<string, number>();
  for (const [, node, seconds] of log.matchAll(/\[(\S+)\] drain: pod \S+ gone ([\d.]+) s after its eviction/g)) waits.set(node!, Math.max(waits.get(node!) ?? 0, Number(seconds)));
  return waits;
}

/** Every flag each component runs with on `node`, read from /proc. */
function runningFlags(node: LabHost): Record<string, string[]> {
  const out = cluster.lab.inside(node, `for d in /proc/[0-9]*; do read -r c < $d/comm 2>/dev/null || continue; case $c in etcd|kube-apiserver|kube-controller|kube-scheduler|kubelet) echo "== $c"; tr '\\0' '\\n' < $d/cmdline;; esac; done`);
  const flags: Record<string, string[]> = {};
  let current = '';
  for (const line of out.split('\n')) {
    if (line.startsWith('== ')) flags[(current = line.slice(3))] ??= [];
    else if (line) flags[current]!.push(line);
  }
  return flags;
}

test('upgrade plan refuses skipping a minor, from the versions the cluster reports; nothing is changed', async () => {
  writeInventory('8760h', { kubernetesVersion: 'v1.22.0' });
  const skip = await runCli(['upgrade', 'plan', '-i', inventory], env);
  expect(skip.code, skip.stdout + skip.stderr).toBe(2);
  expect(skip.stdout).toMatch(/^control plane\s+v1\.20\.2\s+v1\.22\.0$/m);
  expect(skip.stdout).toMatch(/^kubelet\s+4 × v1\.20\.2\s+v1\.22\.0$/m);
  expect(skip.stderr).toContain('v1.20.2 → v1.22.0 skips v1.21: upgrade to the newest v1.21.x first');
});

test('a configuration roll through upgrade apply: control planes one at a time, then the worker drained and uncordoned; the API answers throughout; every component ends on its new flags', async () => {
  ROLL.etcd.imageTag = cluster.etcdImageTag;
  writeInventory('8760h', ROLL);
  const plan = await runCli(['upgrade', 'plan', '-i', inventory, '--output', 'plain'], env);
  expect(plan.code, plan.stdout + plan.stderr).toBe(0);
  expect(plan.stdout).toContain("v1.20.2 → v1.20.2: configuration roll: same version, the inventory's settings");
  for (const cp of cluster.controlPlanes) {
    for (const component of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) expect(plan.stdout).toMatch(new RegExp(`${cp.name}\\b[\\s\\S]*/etc/kubernetes/manifests/${component}\\.yaml: update`));
  }
  expect(plan.stdout).toMatch(/worker-1\b[\s\S]*\/var\/lib\/kubelet\/kubeadm-flags\.env: update/);

  const rollLog = join(work, 'roll.log');
  const { result: roll, polls, failures, elapsedMs } = await whilePollingTheApi(cluster, cluster.workers[0]!, () => runCli(['upgrade', 'apply', '-i', inventory, '--yes', '--output', 'plain', '--log-file', rollLog], env));
  // the drains' share: add-on pods that cannot pull their images here go only when the 1.20 kubelet next syncs them
  const rollLogText = readFileSync(rollLog, 'utf8');
  const drains = drainWaits(rollLogText);
  console.log(`configuration roll of 3 control planes + 1 worker: ${(elapsedMs / 1000).toFixed(1)} s (drains waiting for evicted pods to go: ${[...drains].map(([node, s]) => `${node} ${s.toFixed(1)} s`).join(', ') || 'none'}), ${polls} polls of /livez through the worker's balancer, ${failures.length} failed`);
  expect(roll.code, roll.stdout + roll.stderr).toBe(0);
  // metrics-server tolerates no control-plane taint: the worker's drain evicts it, and the log says when it went
  expect(rollLogText).toMatch(/\[worker-1\] drain: evicting pod kube-system\/metrics-server-/);
  expect(drains.has('worker-1')).toBe(true);
  expect(polls).toBeGreaterThan(10);
  noFailures(failures);

  for (const cp of cluster.controlPlanes) {
    const flags = runningFlags(cp);
    expect(flags['kube-apiserver'], cp.name).toContain('--event-ttl=2h');
    expect(flags['kube-controller'], cp.name).toContain('--node-monitor-grace-period=45s');
    expect(flags['kube-scheduler'], cp.name).toContain('--profiling=false');
    expect(flags['etcd'], cp.name).toContain('--snapshot-count=5000');
  }
  for (const node of cluster.nodes) expect(runningFlags(node)['kubelet'], node.name).toContain('--v=1');
  // every node Ready and schedulable again (drained nodes were uncordoned)
  const nodes = JSON.parse(await kubectl(kubeconfig, ['get', 'nodes', '-o', 'json'])) as { items: Array<{ spec: { unschedulable?: boolean }; status: { conditions: Array<{ type: string; status: string }> } }> };
  expect(nodes.items.map((n) => [n.spec.unschedulable ?? false, n.status.conditions.find((c) => c.type === 'Ready')!.status])).toEqual(cluster.nodes.map(() => [false, 'True']));

  const again = await runCli(['upgrade', 'plan', '-i', inventory], env);
  expect(again.code, again.stdout + again.stderr).toBe(0);
  expect(again.stdout).toContain('Plan: no changes.');
});

test('a roll interrupted after a drain is resumed: the next upgrade apply uncordons the node it left cordoned', async () => {
  const worker = cluster.workers[0]!.name;
  // what a roll leaves behind when it fails between drain and uncordon
  await kubectl(kubeconfig, ['cordon', worker]);
  await kubectl(kubeconfig, ['annotate', 'node', worker, 'kubestrap.dev/drained-for-roll=true']);
  const plan = await runCli(['upgrade', 'plan', '-i', inventory, '--output', 'plain'], env);
  expect(plan.stdout).toContain(`~ [upgrade-workers] Node ${worker}: uncordon (left cordoned by an interrupted roll)`);
  expect(plan.stdout).toContain('Plan: 1 change on 1 host.');
  const resume = await runCli(['upgrade', 'apply', '-i', inventory, '--yes', '--output', 'plain'], env);
  expect(resume.code, resume.stdout + resume.stderr).toBe(0);
  const node = JSON.parse(await kubectl(kubeconfig, ['get', 'node', worker, '-o', 'json'])) as { metadata: { annotations: Record<string, string> }; spec: { unschedulable?: boolean } };
  expect(node.spec.unschedulable ?? false).toBe(false);
  expect(node.metadata.annotations['kubestrap.dev/drained-for-roll']).toBeUndefined();
});

test('another apply changes nothing on any node', async () => {
  const again = await runCli(['apply', '-i', inventory], env);
  expect(again.code, again.stdout + again.stderr).toBe(0);
  expect(again.stdout).toContain('Applied: no changes were needed.');
});

test('remove-node of a control plane: its API server stops and its etcd member leaves before the host is reset, its Node is deleted, and the API answers throughout', async () => {
  const [cp1, , cp3] = cluster.controlPlanes;
  const { result: removed, polls, failures } = await whilePollingTheApi(cluster, cluster.workers[0]!, () => runCli(['remove-node', cp3!.name, '-i', inventory, '--yes', '--output', 'plain'], env));
  expect(removed.code, removed.stdout + removed.stderr).toBe(0);
  expect(removed.stdout).toContain(`${cp3!.name} has left the cluster`);
  // a few seconds now that the API server stops at once: enough polls to have seen an outage
  expect(polls).toBeGreaterThan(5);
  noFailures(failures);
  expect(etcdMembers(cp1!)).toEqual([['cp-1', true], ['cp-2', true]]);
  expect((await kubectl(kubeconfig, ['get', 'nodes', '-o', 'name'])).trim().split('\n')).toEqual(['node/cp-1', 'node/cp-2', 'node/worker-1']);
  // the host keeps no file of the cluster and runs none of its components
  expect(cluster.lab.inside(cp3!, 'find /etc/kubernetes /var/lib/etcd -mindepth 1 ! -type d; pgrep -x etcd; pgrep -x kube-apiserver; true').trim()).toBe('');
});

test('a removed control plane joins again through apply; then a reset of the whole cluster — 3 control planes and the worker at once — leaves nothing of Kubernetes on any host, and a second reset has nothing to do', async () => {
  const rejoin = await runCli(['apply', '-i', inventory, '--output', 'plain'], env);
  expect(rejoin.code, rejoin.stdout + rejoin.stderr).toBe(0);
  expect(etcdMembers(cluster.controlPlanes[0]!).sort()).toEqual([['cp-1', true], ['cp-2', true], ['cp-3', true]]);
  // every member goes in this run: none is removed from etcd (the last ones would lose their quorum while the others stop)
  const dry = await runCli(['reset', '-i', inventory, '--dry-run', '--output', 'plain'], env);
  expect(dry.code, dry.stdout + dry.stderr).toBe(0);
  expect(dry.stdout).not.toContain('remove from the etcd cluster');
  const reset = await runCli(['reset', '-i', inventory, '--yes', '--output', 'plain'], env);
  expect(reset.code, reset.stdout + reset.stderr).toBe(0);
  // every node ran static pods: the worker its node-local API balancer
  for (const node of cluster.nodes) expect(traces(cluster, node), node.name).toEqual(clean(cluster, node, true));
  const again = await runCli(['reset', '-i', inventory, '--yes', '--output', 'plain'], env);
  expect(again.code, again.stdout + again.stderr).toBe(0);
  expect(again.stdout).toContain('Applied: no changes were needed.');
});
