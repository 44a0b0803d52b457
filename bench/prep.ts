/**
 * Prints host-preparation times on namespace lab hosts through the CLI, as an operator runs it.
 * For 1, 10, 30 and 50 fresh hosts (disjoint groups of one lab), then 100 and 200 (a lab each: a
 * lab's /24 holds at most 245 hosts): the first apply of the usual preparation steps (swap,
 * kernel modules, sysctl, /etc/hosts, hostname, limits, time sync, SELinux, firewall), then
 * `plan` and a no-change `apply`, each with its wall time, kubestrap's own CPU time and peak
 * resident memory (read inside the kubestrap process, bench/rusage.ts). Then, on the 10-host
 * group, the package phases (containerd and kubelet/kubectl/cri-tools from the lab mirror).
 * Every lab host shares this machine's 2 cores, so wall times for many hosts include their sshd
 * and shell work too. Figures, not a test.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { labInventory } from '../test/lab/inventory.js';
import { startLab, type Lab } from '../test/lab/lab.js';
import { ensurePackageRepo, serveRepo, useRepoAsDistroMirror, type ServedRepo } from '../test/lab/package-repo.js';

const SMALL = [1, 10, 30, 50];
const LARGE = [100, 200];
const PACKAGE_PHASES = 'container-runtime,kube-packages';
// namespace hosts have no service manager: the control-plane and join phases are measured on the e2e lab
const SKIPPED = `${PACKAGE_PHASES},init,join`;
const PRELOAD = resolve('dist/bench/rusage.js');

interface Figures {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly rssMB: number;
}

/** A lab of `hosts` namespace hosts with the package mirror, and an inventory of them all. */
async function withLab(hosts: number, prefix: string, use: (lab: Lab, inventory: string) => Promise<void>): Promise<void> {
  const lab = await startLab({ hosts, prefix });
  let repo: ServedRepo | undefined;
  try {
    repo = await serveRepo(lab, ensurePackageRepo());
    for (const host of lab.hosts) useRepoAsDistroMirror(lab, host, repo.url);
    const file = join(mkdtempSync(join(tmpdir(), 'kubestrap-bench-prep-')), 'inventory.yaml');
    writeFileSync(
      file,
      labInventory(lab, {
        cluster: {
          packages: { source: 'mirror', mirror: `${repo.url}/kubernetes`, unsigned: true },
          containerRuntime: { restrictOOMScoreAdj: true },
        },
      }),
    );
    await use(lab, file);
  } finally {
    await repo?.close();
    await lab.stop();
  }
}

// asynchronous: the lab's package mirror is served from this process while the CLI runs
async function run(inventory: string, args: string[]): Promise<Figures> {
  const usage = join(mkdtempSync(join(tmpdir(), 'kubestrap-bench-rusage-')), 'usage.json');
  const started = process.hrtime.bigint();
  await promisify(execFile)(process.execPath, ['bin/kubestrap.js', ...args, '-i', inventory, '--output', 'silent', '--concurrency', '50'], {
    maxBuffer: 64 << 20,
    env: { ...process.env, NODE_OPTIONS: `--import=${PRELOAD}`, KUBESTRAP_BENCH_RUSAGE: usage },
  });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const r = JSON.parse(readFileSync(usage, 'utf8')) as { userCPUTime: number; systemCPUTime: number; maxRSS: number };
  return { wallMs, cpuMs: (r.userCPUTime + r.systemCPUTime) / 1000, rssMB: r.maxRSS / 1024 };
}

const cell = (f: Figures) =>
  `${(f.wallMs / 1000).toFixed(1).padStart(6)} s ${(f.cpuMs / 1000).toFixed(2).padStart(6)} s ${f.rssMB.toFixed(0).padStart(4)} MB`;

/** No-change apply figures by number of hosts, for the marginal cost per host. */
const noChange = new Map<number, Figures>();

/** First apply, plan and no-change apply of the usual preparation on `names`; prints one row. */
async function measure(inventory: string, names: readonly string[]): Promise<void> {
  const hosts = ['--hosts', names.join(',')];
  const first = await run(inventory, ['apply', ...hosts, '--skip', SKIPPED]);
  const plan = await run(inventory, ['plan', ...hosts, '--skip', SKIPPED]);
  const again = await run(inventory, ['apply', ...hosts, '--skip', SKIPPED]);
  noChange.set(names.length, again);
  console.log(
    `${String(names.length).padStart(5)}  ${cell(first)}  ${cell(plan)}  ${cell(again)}  ${(again.cpuMs / names.length).toFixed(1).padStart(6)} ms`,
  );
}

console.log('usual preparation steps (package phases skipped); each cell: wall time, kubestrap CPU, kubestrap peak RSS');
console.log('hosts  first apply                plan                       no-change apply            CPU/host (no-change)');
let tenHosts: string[] = [];
await withLab(
  SMALL.reduce((a, b) => a + b, 0),
  'prep',
  async (lab, inventory) => {
    let start = 0;
    for (const n of SMALL) {
      const names = lab.hosts.slice(start, start + n).map((h) => h.name);
      start += n;
      if (n === 10) tenHosts = names;
      await measure(inventory, names);
    }
    const ten = tenHosts.join(',');
    const install = await run(inventory, ['apply', '--hosts', ten, '--only', PACKAGE_PHASES]);
    const again = await run(inventory, ['apply', '--hosts', ten, '--skip', 'init,join']);
    console.log(
      `package phases on 10 hosts (containerd, runc, kubelet, kubectl, cri-tools via apt): ${(install.wallMs / 1000).toFixed(1)} s; then a no-change apply of every preparation phase: ${(again.wallMs / 1000).toFixed(1)} s`,
    );
  },
);
for (const n of LARGE)
  await withLab(n, `prep${n}`, async (lab, inventory) =>
    measure(
      inventory,
      lab.hosts.map((h) => h.name),
    ),
  );
const [small, large] = LARGE.map((n) => noChange.get(n)!) as [Figures, Figures];
console.log(
  `no-change apply, ${LARGE[0]} → ${LARGE[1]} hosts: kubestrap CPU ${((large.cpuMs - small.cpuMs) / (LARGE[1]! - LARGE[0]!)).toFixed(1)} ms per added host (the per-host column above includes the ~0.6 s every run costs to start)`,
);
