/**
 * `npm run bench:cluster`: a 3-node cluster (1 control plane + 2 workers) on fresh e2e labs, made
 * two ways, alternating, each timed from the first SSH connection to every Node Ready:
 *   (a) the kubeadm way, as an operator scripts the usual runbook: one preparation script per
 *       node over SSH in parallel (swap, modules, sysctl, containerd's config, the packages from
 *       the lab mirror), `kubeadm init` on the control plane, `kubeadm join` on the workers in
 *       parallel (the reference kubeadm 1.20.2, test infrastructure);
 *   (b) `kubestrap apply` of the lab's inventory (which also applies its add-on objects).
 * Prints each run, the medians, the ratio b/a, and kubestrap's per-phase medians from --report.
 * Figures, not a test. BENCH_PAIRS sets the number of pairs (default 3).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Host } from '../src/transport/host.js';
import { openLabHost } from '../test/lab/helpers.js';
import { startClusterLab, type ClusterLab } from '../test/e2e/cluster-lab.js';
import { e2eInventory } from '../test/e2e/inventory.js';
import { kubeadmInit, kubeadmJoin, prepareKubeadmNode } from '../test/e2e/kubeadm-cluster.js';

const PAIRS = Number(process.env.BENCH_PAIRS ?? 3);
const READY_TIMEOUT_MS = 600_000;
const run = promisify(execFile);

interface Report {
  timings: Array<{ name: string; elapsedMs: number }>;
}

/** Polls the nodes until every one of `count` is Ready (the bench's own wait: part of both timings alike). */
async function allReady(kubeconfig: string, count: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const out = await run('kubectl', ['--kubeconfig', kubeconfig, 'get', 'nodes', '-o', 'json'], { maxBuffer: 16 << 20 }).then(
      (r) => r.stdout,
      () => '{"items":[]}',
    );
    const nodes = (JSON.parse(out) as { items: Array<{ status: { conditions?: Array<{ type: string; status: string }> } }> }).items;
    if (nodes.length === count && nodes.every((n) => n.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the nodes were not all Ready within ${READY_TIMEOUT_MS / 1000} s`);
}

async function kubeadmWay(cluster: ClusterLab, dir: string): Promise<number> {
  const started = Date.now();
  const hosts = new Map<string, Host>(
    await Promise.all(cluster.nodes.map(async (n) => [n.name, await openLabHost(cluster.lab, n)] as const)),
  );
  try {
    await Promise.all([...hosts.values()].map((h) => prepareKubeadmNode(h, cluster.packageMirror)));
    const cp = hosts.get(cluster.controlPlane.name)!;
    const joinCommand = await kubeadmInit(cluster, cp);
    await kubeadmJoin(hosts, cluster.workers, joinCommand);
    const kubeconfig = join(dir, 'admin.conf');
    writeFileSync(kubeconfig, (await cp.readFiles(['/etc/kubernetes/admin.conf'])).get('/etc/kubernetes/admin.conf')!.content, {
      mode: 0o600,
    });
    await allReady(kubeconfig, cluster.nodes.length);
    return Date.now() - started;
  } finally {
    await Promise.all([...hosts.values()].map((h) => h.close()));
  }
}

async function kubestrapWay(cluster: ClusterLab, dir: string): Promise<{ ms: number; report: Report }> {
  const inventory = join(dir, 'cluster.yaml');
  writeFileSync(inventory, e2eInventory(cluster));
  const reportFile = join(dir, 'report.json');
  const env = { ...process.env, KUBESTRAP_HOME: join(dir, 'home') };
  const started = Date.now();
  await run(process.execPath, ['bin/kubestrap.js', 'apply', '-i', inventory, '--output', 'silent', '--report', reportFile], {
    env,
    maxBuffer: 64 << 20,
  });
  const admin = (await run(process.execPath, ['bin/kubestrap.js', 'kubeconfig', '-i', inventory], { env })).stdout;
  const kubeconfig = join(dir, 'admin.conf');
  writeFileSync(kubeconfig, admin, { mode: 0o600 });
  await allReady(kubeconfig, cluster.nodes.length);
  return { ms: Date.now() - started, report: JSON.parse(readFileSync(reportFile, 'utf8')) as Report };
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** A fresh lab for one run: what the run measures starts at its first SSH connection, after the lab is up. */
async function onFreshLab<T>(use: (cluster: ClusterLab, dir: string) => Promise<T>): Promise<T> {
  const cluster = await startClusterLab({ workers: 2 });
  try {
    return await use(cluster, mkdtempSync(join(tmpdir(), 'kubestrap-bench-cluster-')));
  } finally {
    await cluster.stop();
  }
}

const kubeadm: number[] = [];
const kubestrap: number[] = [];
const phases = new Map<string, number[]>();
for (let pair = 1; pair <= PAIRS; pair++) {
  // alternate which side goes first, so a drift of the machine's load does not favour one
  const order = pair % 2 === 1 ? (['kubeadm', 'kubestrap'] as const) : (['kubestrap', 'kubeadm'] as const);
  for (const side of order) {
    if (side === 'kubeadm') {
      const ms = await onFreshLab(kubeadmWay);
      kubeadm.push(ms);
      console.log(`pair ${pair}: kubeadm way     ${s(ms)}`);
    } else {
      const { ms, report } = await onFreshLab(kubestrapWay);
      kubestrap.push(ms);
      for (const t of report.timings) phases.set(t.name, [...(phases.get(t.name) ?? []), t.elapsedMs]);
      console.log(`pair ${pair}: kubestrap apply ${s(ms)}`);
    }
  }
}
const a = median(kubeadm);
const b = median(kubestrap);
console.log(
  `\nmedians over ${PAIRS} pairs, first SSH connection to 3 Nodes Ready: kubeadm way ${s(a)}, kubestrap apply ${s(b)}; ratio kubestrap/kubeadm ${(b / a).toFixed(2)}`,
);
console.log('\nkubestrap apply, median per stage (from --report; stages with a median under 0.1 s left out):');
for (const [name, ms] of phases) if (median(ms) >= 100) console.log(`  ${name.padEnd(22)} ${s(median(ms)).padStart(8)}`);
