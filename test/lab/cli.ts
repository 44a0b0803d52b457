/**
 * Manual control of the namespace lab: `up N [prefix]` starts hosts and writes an inventory,
 * `sweep` removes labs left by crashed runs. Used by the demo script.
 */
import { writeFileSync } from 'node:fs';
import { labInventory } from './inventory.js';
import { startLab, sweepStaleLabs } from './lab.js';

async function main(): Promise<void> {
  const [command, countText, out] = process.argv.slice(2);
  if (command === 'sweep') {
    sweepStaleLabs();
    return;
  }
  if (command === 'up') {
    const lab = await startLab({ hosts: Number(countText ?? '3'), prefix: 'node' });
    if (out) writeFileSync(out, labInventory(lab, { controlPlanes: 1 }));
    console.log(JSON.stringify({ id: lab.id, hosts: lab.hosts }, null, 2));
    // keep the lab alive until told to stop
    process.on('SIGTERM', () => void lab.stop().then(() => process.exit(0)));
    process.on('SIGINT', () => void lab.stop().then(() => process.exit(0)));
    setInterval(() => undefined, 1 << 30);
    return;
  }
  console.error('usage: lab up N [inventory-out] | lab sweep');
  process.exit(2);
}

void main();
