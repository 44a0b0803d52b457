/**
 * Prints the time to connect and run one command on 1, 10 and 50 lab hosts: in-process (SSH
 * handshake, host-key check, privilege check and fact probe, as every command does) and through
 * the CLI (adds Node start-up and inventory loading). A figure, not a test.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunLog } from '../src/log/run-log.js';
import { HostKeyPolicy } from '../src/transport/host-keys.js';
import { connectTarget } from '../src/kit/connect.js';
import { resolveTargets } from '../src/transport/credentials.js';
import { resolveHosts } from '../src/inventory/resolve.js';
import { parseInventory } from '../src/inventory/load.js';
import { labInventory } from '../test/lab/inventory.js';
import { startLab } from '../test/lab/lab.js';

const SIZES = [1, 10, 50];
const lab = await startLab({ hosts: Math.max(...SIZES), prefix: 'bench' });
try {
  const dir = mkdtempSync(join(tmpdir(), 'kubestrap-bench-'));
  const file = join(dir, 'inventory.yaml');
  writeFileSync(file, labInventory(lab));
  const { inventory } = await parseInventory(labInventory(lab), file);
  console.log('hosts  in-process connect+probe+exec  CLI `kubestrap exec -- true` (wall)');
  for (const n of SIZES) {
    const hosts = resolveHosts(inventory).slice(0, n);
    const targets = await resolveTargets(hosts, { env: process.env });
    const hostKeys = new HostKeyPolicy({ knownHostsFile: join(dir, 'known_hosts'), acceptNew: false });
    const started = process.hrtime.bigint();
    const opened = await Promise.all(targets.map((t) => connectTarget(t, { hostKeys, connectTimeoutMs: 10_000, log: RunLog.disabled() })));
    await Promise.all(opened.map((t) => t.host.check('true')));
    const inProcess = Number(process.hrtime.bigint() - started) / 1e6;
    await Promise.all(opened.map((t) => t.host.close()));
    const cliStart = process.hrtime.bigint();
    const r = spawnSync(
      process.execPath,
      ['bin/kubestrap.js', 'exec', '-i', file, '--concurrency', '50', '--hosts', hosts.map((h) => h.name).join(','), '--', 'true'],
      { encoding: 'utf8' },
    );
    const cli = Number(process.hrtime.bigint() - cliStart) / 1e6;
    if (r.status !== 0) throw new Error(`CLI failed: ${r.stderr}`);
    console.log(`${String(n).padStart(5)}  ${inProcess.toFixed(0).padStart(8)} ms${' '.repeat(22)}${cli.toFixed(0).padStart(8)} ms`);
  }
} finally {
  await lab.stop();
}
