/**
 * Manual control of the namespace lab: `up N [inventory-out]` starts hosts, serves the lab's
 * package mirror to them and writes an inventory that uses it; `sweep` removes labs left by
 * crashed runs. Used by the demo script.
 */
import { writeFileSync } from 'node:fs';
import { labInventory } from './inventory.js';
import { keepUntilSignalled } from './helpers.js';
import { sweepStaleLabs } from './lab.js';
import { startMirroredLab } from './package-repo.js';

async function main(): Promise<void> {
  const [command, countText, out] = process.argv.slice(2);
  if (command === 'sweep') {
    sweepStaleLabs();
    return;
  }
  if (command === 'up') {
    const { lab, repo, stop } = await startMirroredLab({ hosts: Number(countText ?? '3'), prefix: 'node' });
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
    keepUntilSignalled(stop);
    return;
  }
  console.error('usage: lab up N [inventory-out] | lab sweep');
  process.exit(2);
}

void main();
