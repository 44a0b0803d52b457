/**
 * Faults survived, on real nodes (the e2e lab's sshd, dpkg, containerd, kubelet and etcd; nothing
 * faked): dpkg's lock held by a real dpkg while apply reaches kube-packages; one host's SSH
 * sessions killed inside the node while a file batch is in flight; containerd's restart lost
 * after its configuration was written; a full filesystem (a small
 * tmpfs) under /etc/kubernetes of a joining worker; a worker powered off and booted again while
 * it joins; kubestrap SIGKILLed during `certs renew all` once the renewed certificates are on
 * disk, and during `upgrade apply` while an API server's manifest is set aside; and kubestrap SIGKILLed
 * in every phase that changes something when `apply` makes a fresh 3-node cluster, at a random
 * moment of the phase (its length taken from the run log of a first, clean run), each re-run
 * killed in turn further on (a fresh cluster for any phase a kill went past).
 *
 * After each fault: what the interrupted run reported; every managed file either its old content
 * or what `render` gives (never half-written); the CAs and the service-account key those of the
 * first run; one re-run of the same command converging; the next apply changing nothing. The
 * suite prints its figures at the end.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse, stringify } from 'yaml';
import { OPTIONAL_CA_DIRS } from '../../templates/control-plane.js';
import { messageOf } from '../../src/util/errors.js';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { runCli, startCli, tempDir, type CliResult, type RunningCli } from '../lab/helpers.js';
import { holdDpkgLock } from '../lab/lock-holder.js';
import type { LabHost } from '../lab/lab.js';
import { startClusterLab, type ClusterLab } from './cluster-lab.js';
import { e2eInventory } from './inventory.js';
import { kubectl } from './kubectl.js';

const work = tempDir('e2e-faults');
const env = { KUBESTRAP_HOME: join(work, 'home') };
const PARKED = '/etc/kubernetes/kube-apiserver.yaml.parked-by-kubestrap';
/** The cluster's secrets: a changed one would mean a new cluster identity (every kubeconfig and join broken). */
const SECRETS = ['ca.key', 'ca.crt', 'sa.key', 'sa.pub', 'front-proxy-ca.key', 'etcd/ca.key'].map((f) => `/etc/kubernetes/pki/${f}`);

/** The suite's figures, printed at the end. */
const figures = {
  faults: {} as Record<string, { injected: number; convergedOnFirstRerun: number }>,
  filesChecked: 0,
  halfWritten: [] as string[],
  secretsChanged: [] as string[],
};

function counted(kind: string, converged: boolean): void {
  const row = (figures.faults[kind] ??= { injected: 0, convergedOnFirstRerun: 0 });
  row.injected++;
  if (converged) row.convergedOnFirstRerun++;
}

afterAll(() => {
  const rows = Object.entries(figures.faults).map(
    ([kind, r]) =>
      `  ${kind.padEnd(58)} ${String(r.injected).padStart(3)} injected, ${r.convergedOnFirstRerun} converged on the first re-run`,
  );
  console.log(
    [
      'fault-injection summary',
      ...rows,
      `  managed files checked after faults: ${figures.filesChecked}; found half-written: ${figures.halfWritten.length}${figures.halfWritten.length ? ` (${figures.halfWritten.join(', ')})` : ''}`,
      `  secrets changed: ${figures.secretsChanged.length}${figures.secretsChanged.length ? ` (${figures.secretsChanged.join(', ')})` : ''}`,
    ].join('\n'),
  );
});

const sha = (text: Buffer | string) => createHash('sha256').update(text).digest('hex');

/** Paths whose content is the cluster's own key material: checked as secrets, not against render (which issues its own). */
const isKeyMaterial = (path: string) =>
  path.startsWith('/etc/kubernetes/pki/') || /^\/etc\/kubernetes\/[^/]+\.conf$/.test(path) || path.startsWith('/var/lib/kubelet/pki/');

/**
 * A static pod without the volumes of the optional CA directories: render leaves them out (it
 * cannot know which a node has), apply mounts those the node has; the rest must be equal.
 */
function withoutOptionalCaDirs(manifest: string): string {
  const pod = parse(manifest) as {
    spec: {
      volumes?: Array<{ name: string; hostPath?: { path?: string } }>;
      containers: Array<{ volumeMounts?: Array<{ name: string }> }>;
    };
  };
  const optional = new Set(
    (pod.spec.volumes ?? []).filter((v) => (OPTIONAL_CA_DIRS as readonly string[]).includes(v.hostPath?.path ?? '')).map((v) => v.name),
  );
  pod.spec.volumes = (pod.spec.volumes ?? []).filter((v) => !optional.has(v.name));
  for (const c of pod.spec.containers) c.volumeMounts = (c.volumeMounts ?? []).filter((m) => !optional.has(m.name));
  return stringify(pod);
}

/** What a managed file's content is compared by: its sha256 (a static pod's without the optional CA directories). */
const digest = (path: string, content: Buffer) =>
  sha(path.startsWith('/etc/kubernetes/manifests/') ? withoutOptionalCaDirs(content.toString('utf8')) : content);

/** What `render` says each node's files must hold (key material aside), as digests by node and path. */
function rendered(inventory: string): Map<string, Map<string, string>> {
  const out = tempDir('e2e-faults-render');
  const result = runCliSync(['render', '-i', inventory, '--out', out]);
  expect(result.code, result.stderr).toBe(0);
  const byNode = new Map<string, Map<string, string>>();
  for (const node of readdirSync(out)) {
    if (node === 'cluster') continue;
    const files = new Map<string, string>();
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir)) {
        const full = join(dir, entry);
        if (statSync(full).isDirectory()) walk(full);
        else {
          const path = `/${relative(join(out, node), full)}`;
          if (!isKeyMaterial(path)) files.set(path, digest(path, readFileSync(full)));
        }
      }
    };
    walk(join(out, node));
    byNode.set(node, files);
  }
  return byNode;
}

function runCliSync(args: readonly string[]): CliResult {
  const r = spawnSync(process.execPath, ['bin/kubestrap.js', ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The digest of each path on the node ('' for a missing file), read in one round trip. */
function checksums(cluster: ClusterLab, node: LabHost, paths: readonly string[]): Map<string, string> {
  const out = cluster.lab.inside(
    node,
    paths.map((p) => `if [ -f '${p}' ]; then echo "+ ${p}"; base64 -w0 '${p}'; echo; else echo "- ${p}"; fi`).join('\n'),
  );
  const lines = out.split('\n');
  const sums = new Map<string, string>();
  for (let i = 0; i < lines.length; i++) {
    const m = /^([+-]) (.+)$/.exec(lines[i]!);
    if (!m) continue;
    sums.set(m[2]!, m[1] === '+' ? digest(m[2]!, Buffer.from(lines[++i] ?? '', 'base64')) : '');
  }
  return sums;
}

type Snapshot = Map<string, Map<string, string>>;

/** Every managed file of every node, as it is now. */
function snapshot(cluster: ClusterLab, want: Snapshot): Snapshot {
  return new Map(cluster.nodes.map((n) => [n.name, checksums(cluster, n, [...(want.get(n.name)?.keys() ?? [])])]));
}

/**
 * The files written so far are whole: each managed file holds what it held before (`before`) or
 * what render gives (`want`), nothing in between. Returns the count checked.
 */
function expectWhole(cluster: ClusterLab, before: Snapshot, want: Snapshot, what: string): void {
  const now = snapshot(cluster, want);
  for (const [node, files] of now) {
    for (const [path, sum] of files) {
      figures.filesChecked++;
      if (sum !== want.get(node)!.get(path) && sum !== before.get(node)?.get(path)) figures.halfWritten.push(`${node}:${path} (${what})`);
    }
  }
  expect(figures.halfWritten).toEqual([]);
}

/** The managed files are exactly what render gives. */
function expectRendered(cluster: ClusterLab, want: Snapshot): void {
  const now = snapshot(cluster, want);
  const differ = [...now].flatMap(([node, files]) =>
    [...files].filter(([path, sum]) => sum !== want.get(node)!.get(path)).map(([path]) => `${node}:${path}`),
  );
  expect(differ).toEqual([]);
}

/** Key files and kubeconfigs parse (openssl; a half-written PEM does not). */
function expectKeyMaterialWhole(cluster: ClusterLab, node: LabHost): void {
  const bad = cluster.lab
    .inside(
      node,
      `for f in $(find /etc/kubernetes/pki -name '*.crt' 2>/dev/null); do openssl x509 -noout -in "$f" 2>/dev/null || echo "$f"; done; for f in $(find /etc/kubernetes/pki -name '*.key' 2>/dev/null); do openssl pkey -noout -in "$f" 2>/dev/null || echo "$f"; done; true`,
    )
    .trim();
  expect(bad, `${node.name}: key material that does not parse`).toBe('');
}

function secretsOf(cluster: ClusterLab): Map<string, string> {
  return checksums(cluster, cluster.controlPlane, SECRETS);
}

function expectSecretsKept(cluster: ClusterLab, first: Map<string, string>, what: string): void {
  for (const [path, sum] of secretsOf(cluster)) if (sum !== first.get(path)) figures.secretsChanged.push(`${path} (${what})`);
  expect(figures.secretsChanged).toEqual([]);
}

/** The saved admin kubeconfig an apply printed. */
const kubeconfigFrom = (apply: CliResult) => /^admin kubeconfig: (\S+)/m.exec(apply.stdout)![1]!;

/**
 * Why nodes are not Ready, in a few lines a CI excerpt keeps: each such node's Ready condition,
 * the pods on it, its kubelet's last errors.
 */
async function whyNotReady(cluster: ClusterLab, kubeconfig: string): Promise<string> {
  type Node = {
    metadata: { name: string };
    status?: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> };
  };
  const nodes = JSON.parse(await kubectl(kubeconfig, ['get', 'nodes', '-o', 'json']).catch(() => '{"items":[]}')) as { items: Node[] };
  const out: string[] = [];
  for (const node of nodes.items) {
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready?.status === 'True') continue;
    const name = node.metadata.name;
    out.push(`${name}: Ready ${ready?.status ?? 'unknown'} (${ready?.reason ?? ''}: ${ready?.message ?? ''})`);
    out.push(await kubectl(kubeconfig, ['get', 'pods', '-A', '-o', 'wide', '--field-selector', `spec.nodeName=${name}`]).catch(messageOf));
    const host = cluster.nodes.find((n) => n.name === name);
    if (host)
      out.push(cluster.lab.inside(host, "journalctl -u kubelet -n 400 --no-pager | grep -E ' E[0-9]{4} ' | tail -n 8 | cut -c1-400; true"));
  }
  return out.join('\n');
}

/** Nodes Ready, the next apply changes nothing, every file whole and rendered, the secrets kept. */
async function expectConverged(
  cluster: ClusterLab,
  inventory: string,
  kubeconfig: string,
  want: Snapshot,
  first: Map<string, string>,
  what: string,
): Promise<void> {
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'node', '--all', '--timeout=240s'], 260_000).catch(async (err: unknown) => {
    throw new Error(`${messageOf(err)}\n${await whyNotReady(cluster, kubeconfig)}`, { cause: err });
  });
  const again = await runCli(['apply', '-i', inventory], env);
  expect(again.code, brief(again)).toBe(0);
  expect(/^Applied: .*$/m.exec(again.stdout)?.[0], `the apply after ${what}:\n${brief(again)}`).toBe('Applied: no changes were needed.');
  expectRendered(cluster, want);
  for (const cp of cluster.controlPlanes) expectKeyMaterialWhole(cluster, cp);
  expectSecretsKept(cluster, first, what);
}

/** The phases a run log shows starting, with when, and on how many hosts; 'phases done' ends the list. */
function phaseStarts(log: string): Array<{ phase: string; at: number; hosts: number }> {
  return [...log.matchAll(/^(\S+) \[workflow\] (?:phase (\S+) on (\d+) hosts?|(phases done))$/gm)].map((m) => ({
    phase: m[2] ?? 'done',
    at: Date.parse(m[1]!),
    hosts: Number(m[3] ?? 0),
  }));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the run has printed a line matching `pattern` (a pipe: at once); false when it ends first. */
async function untilPrinted(run: RunningCli, pattern: RegExp): Promise<boolean> {
  let done = false;
  void run.result.then(() => (done = true));
  for (;;) {
    if (pattern.test(run.stdout())) return true;
    if (done) return false;
    await sleep(5);
  }
}

/** The phase a plain-output run was in last (its task lines: `❯ NAME: title`). */
const lastPhase = (stdout: string) => [...stdout.matchAll(/^❯ ([a-z-]+): /gm)].at(-1)?.[1] ?? 'connect';

/** A plain-output line that starts `phase`. */
const starts = (phase: string) => new RegExp(`^❯ ${phase}: `, 'm');

/** Waits until the node shows `test` true (a shell test); false when `exited` settles first. */
async function untilOnNode(cluster: ClusterLab, node: LabHost, test: string, exited: Promise<unknown>): Promise<boolean> {
  let done = false;
  void exited.then(() => (done = true));
  for (;;) {
    if (cluster.lab.inside(node, `${test} && echo yes; true`).trim() === 'yes') return true;
    if (done) return false;
    await sleep(100);
  }
}

/**
 * A run's output in brief, for failure messages (a whole run's output pushes the other failures
 * out of what CI shows): the changes it lists, its summary with each failed host's error, its stderr.
 */
function brief(run: CliResult): string {
  const lines = run.stdout.split('\n');
  const summary = lines.findIndex((l) => / finished in [\d.]+ s: /.test(l));
  const log = lines.findIndex((l, i) => i > summary && l.startsWith('log: '));
  return [
    ...lines.filter((l) => /^\s+~ \[|^(Applied|Plan): /.test(l)),
    ...(summary >= 0 ? lines.slice(summary, log > summary ? log : undefined) : lines.slice(-20)),
    run.stderr.trim(),
  ].join('\n');
}

/** The one-line summary of an interrupted run names the host, the phase and the cause; no stack trace. */
function expectNamedFailure(result: CliResult, host: string, phase: string, cause: RegExp): void {
  expect(result.code, brief(result)).not.toBe(0);
  const text = result.stdout + result.stderr;
  const failedRows = text.split('\n').filter((l) => /\sfailed\s/.test(l));
  expect(failedRows.join('\n'), brief(result)).toMatch(
    new RegExp(`${host}\\s+failed\\s+\\d+\\s+\\d+\\s+${phase}: .*${cause.source}`, 'mi'),
  );
  expect(text.split('\n').filter((l) => /^\s+at .+:\d+:\d+\)?$/.test(l))).toEqual([]);
}

// ---------------------------------------------------------------------------------------------
// One cluster for the faults that need one running: cp-1 and two workers.

let cluster: ClusterLab;
let inventory: string;
let want: Snapshot;
let firstSecrets: Map<string, string>;
let kubeconfig = '';
/** Each phase's length in the clean first run, for the kill moments. */
let cleanPhaseMs = new Map<string, number>();
let cleanPhases: string[] = [];
/** Every phase of apply, in its order. */
let phaseOrder: string[] = [];

beforeAll(async () => {
  cluster = await startClusterLab({ workers: 2 });
  inventory = join(work, 'inventory.yaml');
  writeFileSync(inventory, e2eInventory(cluster, { addons: { metricsServer: false } }));
  want = rendered(inventory);
});

afterAll(async () => {
  await cluster?.stop();
});

/** A worker taken out of the cluster (remove-node) so that the next apply joins it again; the files as they are then. */
async function removedToJoinAgain(worker: LabHost): Promise<Snapshot> {
  const removed = await runCli(['remove-node', worker.name, '-i', inventory, '--yes'], env);
  expect(removed.code, brief(removed)).toBe(0);
  return snapshot(cluster, want);
}

/** One re-run of apply after the fault `kind` converges (counted in the figures). */
async function rerunConverges(kind: string, what: string): Promise<void> {
  const rerun = await runCli(['apply', '-i', inventory], env);
  expect(rerun.code, brief(rerun)).toBe(0);
  counted(kind, rerun.code === 0);
  await expectConverged(cluster, inventory, kubeconfig, want, firstSecrets, what);
}

test("the first apply, with dpkg's lock held on worker-2 by a real dpkg: it waits, naming the holder's PID and command, then installs; the cluster comes up", async () => {
  const worker2 = cluster.workers[1]!;
  // held while apply connects and prepares; released 20 s after it was taken
  const holder = await holdDpkgLock(cluster.lab, worker2, 20);
  const log = join(work, 'first.log');
  const report = join(work, 'first.json');
  const first = await runCli(['apply', '-i', inventory, '--log-file', log, '--report', report, '--output', 'plain'], env);
  await holder.done;
  expect(first.code, brief(first)).toBe(0);
  kubeconfig = kubeconfigFrom(first);
  const text = readFileSync(log, 'utf8');
  expect(text).toMatch(
    /\[worker-2\] waiting for the package manager \(\d+ s of 300 s\): \/var\/lib\/dpkg\/lock\S* held by PID \d+ \(dpkg -i \/root\/holder\.deb\s*\)/,
  );
  expect(first.stdout).toMatch(/waiting for the package manager .*held by PID \d+ \(dpkg -i/);
  const starts = phaseStarts(text);
  // the phases that change something on fresh hosts: where a kill can leave work half-done
  const changed = new Set(
    (JSON.parse(readFileSync(report, 'utf8')) as { hosts: Array<{ changes: Array<{ phase: string }> }> }).hosts.flatMap((h) =>
      h.changes.map((c) => c.phase),
    ),
  );
  phaseOrder = starts.map((s) => s.phase);
  cleanPhases = phaseOrder.filter((p) => changed.has(p));
  cleanPhaseMs = new Map(starts.slice(0, -1).map((s, i) => [s.phase, starts[i + 1]!.at - s.at]));
  // kube-packages waited here for the held lock: a kill aimed inside it must not be timed by that wait
  const waited = Math.max(0, ...[...text.matchAll(/waiting for the package manager \((\d+) s of 300 s\)/g)].map((m) => Number(m[1])));
  cleanPhaseMs.set('kube-packages', Math.max(1000, (cleanPhaseMs.get('kube-packages') ?? 0) - waited * 1000));
  firstSecrets = secretsOf(cluster);
  expect([...firstSecrets.values()].every(Boolean)).toBe(true);
  counted("dpkg's lock held during kube-packages", true);
  await expectConverged(cluster, inventory, kubeconfig, want, firstSecrets, 'the first apply');
});

/**
 * Runs inside a node: waits (up to 60 s) for a temp file of kubestrap's file batch in `dirs` to
 * appear, then kills every SSH session of the node at once — the batch is in flight.
 */
const CUT_ON_BATCH = (dirs: readonly string[]) => `end=$(($(date +%s) + 60))
while [ $(date +%s) -lt $end ]; do
  for i in $(seq 1 2000); do
    for f in ${dirs.map((d) => `${d}/.kubestrap.*`).join(' ')}; do
      if [ -e "$f" ]; then pkill -KILL -f '^sshd: [^ ]+ \\[priv\\]'; pkill -KILL -f '^sshd: [^ ]+@notty'; echo cut; exit 0; fi
    done
  done
done
echo missed`;

test("worker-1's SSH sessions killed inside the node in the middle of a file batch (container-runtime's files): the run names worker-1, the phase and the lost connection; each file is old or new, no temp file left; one re-run converges", async () => {
  const worker1 = cluster.workers[0]!;
  const dirs = ['/etc/containerd', '/etc'];
  let cut: CliResult | undefined;
  let before: Snapshot | undefined;
  // the batch takes milliseconds: a cut that came too late (the run finished) is tried again
  for (let attempt = 1; attempt <= 5 && !cut; attempt++) {
    cluster.lab.inside(worker1, "for f in /etc/containerd/config.toml /etc/crictl.yaml; do echo '# changed by hand' >> $f; done");
    before = snapshot(cluster, want);
    const watcher = cluster.lab.run(worker1, CUT_ON_BATCH(dirs));
    const result = await runCli(['apply', '-i', inventory, '--log-file', join(work, `ssh-cut-${attempt}.log`), '--output', 'plain'], env);
    if ((await watcher).trim() === 'cut' && result.code !== 0) cut = result;
  }
  expect(cut, 'a cut landed inside the batch in 5 attempts').toBeDefined();
  expectNamedFailure(cut!, 'worker-1', 'container-runtime', /connection was lost/);
  expectWhole(cluster, before!, want, 'SSH sessions killed');
  expect(cluster.lab.inside(worker1, `ls -a ${dirs.join(' ')} | grep '^\\.kubestrap\\.'; true`).trim(), 'temp files left').toBe('');
  await rerunConverges('SSH sessions of one host killed mid-batch', 'the SSH cut');
});

test("kubestrap killed after writing containerd's configuration and before restarting it (the file right, containerd still on the old one): plan shows the restart; the next apply restarts containerd and converges", async () => {
  const worker2 = cluster.workers[1]!;
  const containerdPid = () => cluster.lab.inside(worker2, 'pidof containerd').trim();
  const before = containerdPid();
  // what such a run leaves: the file as the inventory wants it, written after containerd started (minutes ago)
  cluster.lab.inside(worker2, 'touch /etc/containerd/config.toml');
  const plan = await runCli(['plan', '-i', inventory, '--output', 'plain'], env);
  expect(plan.stdout).toMatch(
    /worker-2[\s\S]*\[container-runtime\] service containerd: restart \(configuration changed since it started\)/,
  );
  await rerunConverges("containerd's restart lost after its configuration was written", 'the lost restart');
  expect(containerdPid()).not.toBe(before);
});

test('a full filesystem (a 64 KiB tmpfs, filled) under /etc/kubernetes of worker-2 as it joins again: the run names worker-2, the phase and the full disk; nothing half-written; with room again, one re-run joins it', async () => {
  const worker2 = cluster.workers[1]!;
  const before = await removedToJoinAgain(worker2);
  cluster.lab.inside(
    worker2,
    'mount -t tmpfs -o size=64k tmpfs /etc/kubernetes && mkdir /etc/kubernetes/manifests && (dd if=/dev/zero of=/etc/kubernetes/filler bs=1k 2>/dev/null; true)',
  );
  try {
    const full = await runCli(['apply', '-i', inventory, '--output', 'plain'], env);
    expectNamedFailure(full, worker2.name, '\\S+', /No space left on device/);
    expectWhole(cluster, before, want, 'a full disk');
  } finally {
    cluster.lab.inside(worker2, 'umount /etc/kubernetes');
  }
  await rerunConverges('a full filesystem under /etc/kubernetes', 'the full disk');
});

test("worker-1 restarted (its node powered off and booted again) while it joins: the run names worker-1, the join and the lost connection (or systemd's, when the shutdown lands inside a systemctl call); one re-run converges", async () => {
  const worker1 = cluster.workers[0]!;
  const before = await removedToJoinAgain(worker1);
  const log = join(work, 'restart.log');
  const run = startCli(['apply', '-i', inventory, '--log-file', log, '--output', 'plain'], env);
  expect(await untilPrinted(run, starts('join-workers'))).toBe(true);
  // the join has started the kubelet; the run is finishing the join or waiting for the Node (worker-nodes)
  expect(await untilOnNode(cluster, worker1, 'pgrep -x kubelet >/dev/null', run.result), 'the kubelet started').toBe(true);
  await cluster.lab.restart(worker1);
  // the SSH connection is lost, or, when the shutdown reaches a running systemctl first, its bus
  // to systemd is (seen in CI: 'Reload daemon failed: Transport endpoint is not connected')
  expectNamedFailure(
    await run.result,
    worker1.name,
    '(join-workers|worker-nodes)',
    /(connection|closed|reset|ended|channel|Transport endpoint is not connected)/,
  );
  expectWhole(cluster, before, want, 'a node restart');
  await rerunConverges('a node restarted while it joins', 'the node restart');
});

/** Starts `args`, SIGKILLs kubestrap once cp-1's API server manifest is set aside, and checks it stays so. */
async function killWhileParked(args: readonly string[]): Promise<void> {
  const cp = cluster.controlPlane;
  const run = startCli(args, env);
  expect(await untilOnNode(cluster, cp, `test -e ${PARKED}`, run.result), 'the manifest was set aside').toBe(true);
  run.child.kill('SIGKILL');
  await run.result;
  // nothing else puts it back: the API server is down until a kubestrap run does
  expect(cluster.lab.inside(cp, `test -e /etc/kubernetes/manifests/kube-apiserver.yaml && echo there || echo absent`).trim()).toBe(
    'absent',
  );
  const plan = await runCli(['plan', '-i', inventory, '--output', 'plain'], env);
  expect(plan.stdout).toMatch(/\[parked-manifests\] \/etc\/kubernetes\/manifests\/kube-apiserver\.yaml: restore \(set aside/);
}

/** The notAfter of cp-1's API server certificate: on disk, and as it serves it. */
const apiServerCertificateEnd = (where: 'disk' | 'served') =>
  cluster.lab
    .inside(
      cluster.controlPlane,
      where === 'disk'
        ? 'openssl x509 -noout -enddate -in /etc/kubernetes/pki/apiserver.crt'
        : 'openssl s_client -connect 127.0.0.1:6443 </dev/null 2>/dev/null | openssl x509 -noout -enddate',
    )
    .trim();

test("kubestrap killed during certs renew all once cp-1's renewed certificates are on disk (its API server about to restart onto them): certs renew all, run again, renews and restarts what reads them; the API server serves what is on disk", async () => {
  const before = apiServerCertificateEnd('disk');
  const run = startCli(['certs', 'renew', 'all', '-i', inventory, '--output', 'plain'], env);
  expect(
    await untilOnNode(
      cluster,
      cluster.controlPlane,
      `[ "$(openssl x509 -noout -enddate -in /etc/kubernetes/pki/apiserver.crt)" != '${before}' ]`,
      run.result,
    ),
    'the renewed certificates were written',
  ).toBe(true);
  run.child.kill('SIGKILL');
  await run.result;
  const again = await runCli(['certs', 'renew', 'all', '-i', inventory, '--output', 'plain'], env);
  expect(again.code, brief(again)).toBe(0);
  counted('kubestrap killed in certs renew (certificates written)', again.code === 0);
  expect(apiServerCertificateEnd('served')).toBe(apiServerCertificateEnd('disk'));
  await expectConverged(cluster, inventory, kubeconfig, want, firstSecrets, 'the renewal');
});

test("kubestrap killed during upgrade apply (a configuration roll) while cp-1's API server is set aside: upgrade apply, run again, puts it back and finishes the roll", async () => {
  const rolled = join(work, 'rolled.yaml');
  writeFileSync(
    rolled,
    e2eInventory(cluster, {
      addons: { metricsServer: false },
      apiServer: { extraArgs: { 'event-ttl': '2h' } },
      etcd: { imageTag: cluster.etcdImageTag, extraArgs: { 'snapshot-count': '5000' } },
    }),
  );
  const wantRolled = rendered(rolled);
  inventory = rolled;
  await killWhileParked(['upgrade', 'apply', '-i', rolled, '--yes', '--output', 'plain']);
  const again = await runCli(['upgrade', 'apply', '-i', rolled, '--yes', '--output', 'plain'], env);
  expect(again.code, brief(again)).toBe(0);
  counted('kubestrap killed in upgrade apply (API server set aside)', again.code === 0);
  const flags = cluster.lab.inside(
    cluster.controlPlane,
    'for p in $(pgrep -x etcd) $(pgrep -x kube-apiserver); do tr "\\0" "\\n" < /proc/$p/cmdline; done',
  );
  expect(flags).toContain('--snapshot-count=5000');
  expect(flags).toContain('--event-ttl=2h');
  const plan = await runCli(['upgrade', 'plan', '-i', rolled], env);
  expect(plan.stdout).toContain('Plan: no changes.');
  await expectConverged(cluster, rolled, kubeconfig, wantRolled, firstSecrets, 'the roll');
});

test('kubestrap SIGKILLed in every phase that changes something as apply makes a fresh 3-node cluster, at a random moment of the phase: each re-run goes past where the last died without a failure, killed in turn further on; the last converges', async () => {
  const targets = cleanPhases;
  expect(targets.length).toBeGreaterThanOrEqual(10);
  const hit = new Set<string>();
  const kills: string[] = [];
  // a kill that lands after its phase leaves that phase done for this cluster: a fresh one (at most 3) gets the phases missed
  for (let chain = 1; chain <= 3 && hit.size < targets.length; chain++) {
    await cluster.stop();
    cluster = await startClusterLab({ workers: 2 });
    inventory = join(work, `fresh-${chain}.yaml`);
    writeFileSync(inventory, e2eInventory(cluster, { addons: { metricsServer: false } }));
    const wantFresh = rendered(inventory);
    const before = snapshot(cluster, wantFresh);
    let secrets: Map<string, string> | undefined;
    let position = -1;
    for (let run = 0; ; run++) {
      const aim = targets.find((p) => !hit.has(p) && phaseOrder.indexOf(p) > position);
      if (!aim) break;
      const log = join(work, `chain-${chain}-kill-${run}.log`);
      const started = startCli(['apply', '-i', inventory, '--log-file', log, '--output', 'plain'], env);
      // (the message only when it failed: awaiting the result would let the run finish)
      if (!(await untilPrinted(started, starts(aim))))
        expect.fail(`chain ${chain} run ${run} ended before phase ${aim}: ${(await started.result).stdout}`);
      // a moment inside the phase, by its length in the clean run
      const delay = Math.floor(Math.random() * 0.5 * (cleanPhaseMs.get(aim) ?? 0));
      await sleep(delay);
      started.child.kill('SIGKILL');
      const landed = lastPhase((await started.result).stdout);
      position = Math.max(position, phaseOrder.indexOf(landed));
      if (targets.includes(landed)) hit.add(landed);
      kills.push(`${aim}+${delay}ms→${landed}`);
      // the run went as far as it did without a failure: what the last kill left was taken in its stride
      expect(readFileSync(log, 'utf8').match(/^.*FAILED in .*$/gm) ?? [], `chain ${chain} run ${run}`).toEqual([]);
      expectWhole(cluster, before, wantFresh, `killed in ${landed}`);
      secrets ??= secretsOf(cluster).get('/etc/kubernetes/pki/ca.key') ? secretsOf(cluster) : undefined;
      if (secrets) expectSecretsKept(cluster, secrets, `killed in ${landed}`);
    }
    const last = await runCli(['apply', '-i', inventory], env);
    expect(last.code, brief(last)).toBe(0);
    // chained: each kill's re-run went on without a failure (and was killed further on); the last one converged
    console.log(
      `chain ${chain} on a fresh cluster, kills (aimed phase + delay → phase running at the kill): ${kills.join(', ')}; phases hit so far: ${[...hit].join(', ')}`,
    );
    for (const _ of kills.splice(0)) counted('kubestrap SIGKILLed in apply, chained (no re-run failed)', last.code === 0);
    await expectConverged(cluster, inventory, kubeconfigFrom(last), wantFresh, secrets ?? secretsOf(cluster), `chain ${chain}`);
  }
  expect(
    targets.filter((p) => !hit.has(p)),
    'phases never hit',
  ).toEqual([]);
});
