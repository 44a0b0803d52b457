/**
 * Prints host-preparation times on namespace lab hosts through the CLI, as an operator runs it.
 * For 1, 10, 30 and 50 fresh hosts (disjoint groups): the first apply of the usual preparation
 * steps (swap, kernel modules, sysctl, /etc/hosts, hostname, limits, time sync, SELinux,
 * firewall), then `plan` and a no-change `apply`. Then, on the 10-host group, the package phases
 * (containerd and kubelet/kubectl/cri-tools from the lab mirror). Every lab host shares this
 * machine's 2 cores, so the figures for many hosts include their sshd and shell work too.
 * Figures, not a test.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { labInventory } from '../test/lab/inventory.js';
import { startLab } from '../test/lab/lab.js';
import { ensurePackageRepo, serveRepo, useRepoAsDistroMirror } from '../test/lab/package-repo.js';

const SIZES = [1, 10, 30, 50];
const PACKAGE_PHASES = 'container-runtime,kube-packages';
// namespace hosts have no service manager: the control-plane and join phases are measured on the e2e lab
const SKIPPED = `${PACKAGE_PHASES},init,join`;
const lab = await startLab({ hosts: SIZES.reduce((a, b) => a + b, 0), prefix: 'prep' });
const repo = await serveRepo(lab, ensurePackageRepo());
try {
  for (const host of lab.hosts) useRepoAsDistroMirror(lab, host, repo.url);
  const file = join(mkdtempSync(join(tmpdir(), 'kubestrap-bench-prep-')), 'inventory.yaml');
  writeFileSync(file, labInventory(lab, { cluster: { packages: { source: 'mirror', mirror: `${repo.url}/kubernetes`, unsigned: true }, containerRuntime: { restrictOOMScoreAdj: true } } }));
  // asynchronous: the lab's package mirror is served from this process while the CLI runs
  const run = async (args: string[]) => {
    const started = process.hrtime.bigint();
    await promisify(execFile)(process.execPath, ['bin/kubestrap.js', ...args, '-i', file, '--output', 'silent', '--concurrency', '50'], { maxBuffer: 64 << 20 });
    return Number(process.hrtime.bigint() - started) / 1e6;
  };
  const ms = (n: number) => `${n.toFixed(0).padStart(6)} ms`;
  console.log('usual preparation steps (package phases skipped)');
  console.log('hosts  first apply   plan       no-change apply');
  let start = 0;
  const groups: string[] = [];
  for (const n of SIZES) {
    const names = lab.hosts.slice(start, start + n).map((h) => h.name).join(',');
    start += n;
    groups.push(names);
    const first = await run(['apply', '--hosts', names, '--skip', SKIPPED]);
    const plan = await run(['plan', '--hosts', names, '--skip', SKIPPED]);
    const again = await run(['apply', '--hosts', names, '--skip', SKIPPED]);
    console.log(`${String(n).padStart(5)}  ${ms(first)}  ${ms(plan)}  ${ms(again)}`);
  }
  const ten = groups[1]!;
  const install = await run(['apply', '--hosts', ten, '--only', PACKAGE_PHASES]);
  const again = await run(['apply', '--hosts', ten, '--skip', 'init,join']);
  console.log(`package phases on 10 hosts (containerd, runc, kubelet, kubectl, cri-tools via apt): ${ms(install)}; then a no-change apply of every preparation phase: ${ms(again)}`);
} finally {
  await repo.close();
  await lab.stop();
}
