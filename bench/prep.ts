/**
 * Prints host-preparation times on lab hosts through the CLI, as an operator runs it: the first
 * apply (all phases: sysctl, modules, swap, /etc/hosts, limits, containerd and kubelet packages
 * from the lab mirror, ...), then `plan` and a no-change `apply`, for 1, 10, 30 and 50 hosts.
 * Figures, not a test.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labInventory } from '../test/lab/inventory.js';
import { startLab } from '../test/lab/lab.js';
import { ensurePackageRepo, serveRepo, useRepoAsDistroMirror } from '../test/lab/package-repo.js';

const SIZES = [1, 10, 30, 50];
const lab = await startLab({ hosts: Math.max(...SIZES), prefix: 'prep' });
const repo = await serveRepo(lab, ensurePackageRepo());
try {
  for (const host of lab.hosts) useRepoAsDistroMirror(lab, host, repo.url);
  const dir = mkdtempSync(join(tmpdir(), 'kubestrap-bench-prep-'));
  const file = join(dir, 'inventory.yaml');
  writeFileSync(
    file,
    labInventory(lab, { cluster: { packages: { source: 'mirror', mirror: `${repo.url}/kubernetes`, unsigned: true }, containerRuntime: { restrictOOMScoreAdj: true } } }),
  );
  // asynchronous: the lab's package mirror is served from this process while the CLI runs
  const run = async (args: string[]) => {
    const started = process.hrtime.bigint();
    await promisify(execFile)(process.execPath, ['bin/kubestrap.js', ...args, '-i', file, '--output', 'silent', '--concurrency', '50'], { maxBuffer: 64 << 20 });
    return Number(process.hrtime.bigint() - started) / 1e6;
  };
  console.log('hosts  first apply   plan      no-change apply');
  let done = 0;
  for (const n of SIZES) {
    // hosts already prepared by a smaller size are excluded from the first-apply figure
    const fresh = lab.hosts.slice(done, n).map((h) => h.name);
    const all = lab.hosts.slice(0, n).map((h) => h.name).join(',');
    const first = fresh.length ? await run(['apply', '--hosts', fresh.join(',')]) : NaN;
    const plan = await run(['plan', '--hosts', all]);
    const again = await run(['apply', '--hosts', all]);
    done = n;
    console.log(`${String(n).padStart(5)}  ${first.toFixed(0).padStart(7)} ms  ${plan.toFixed(0).padStart(6)} ms  ${again.toFixed(0).padStart(8)} ms${fresh.length !== n ? `   (first apply on the ${fresh.length} new hosts)` : ''}`);
  }
} finally {
  await repo.close();
  await lab.stop();
}
