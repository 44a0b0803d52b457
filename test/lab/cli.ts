/**
 * Manual control of the namespace lab: `up N [inventory-out]` starts hosts, serves the lab's
 * package mirror to them and writes an inventory that uses it; `sweep` removes labs left by
 * crashed runs. Used by the demo script.
 */
import { writeFileSync } from 'node:fs';
import { labInventory } from './inventory.js';
import { startLab, sweepStaleLabs } from './lab.js';
import { ensurePackageRepo, serveRepo, useRepoAsDistroMirror } from './package-repo.js';

async function main(): Promise<void> {
  const [command, countText, out] = process.argv.slice(2);
  if (command === 'sweep') {
    sweepStaleLabs();
    return;
  }
  if (command === 'up') {
    const root = ensurePackageRepo();
    const lab = await startLab({ hosts: Number(countText ?? '3'), prefix: 'node' });
    const repo = await serveRepo(lab, root);
    for (const host of lab.hosts) useRepoAsDistroMirror(lab, host, repo.url);
    const inventory = labInventory(lab, {
      controlPlanes: 1,
      cluster: {
        imageRepository: 'registry.cn-hangzhou.aliyuncs.com/google_containers',
        packages: { source: 'mirror', mirror: `${repo.url}/kubernetes`, unsigned: true },
        containerRuntime: { restrictOOMScoreAdj: true },
      },
    });
    if (out) writeFileSync(out, inventory);
    console.log(JSON.stringify({ id: lab.id, hosts: lab.hosts, packageMirror: repo.url }, null, 2));
    const stop = () =>
      void repo
        .close()
        .then(() => lab.stop())
        .then(() => process.exit(0));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    setInterval(() => undefined, 1 << 30);
    return;
  }
  console.error('usage: lab up N [inventory-out] | lab sweep');
  process.exit(2);
}

void main();
