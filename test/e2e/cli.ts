/**
 * Manual control of the e2e lab: `up [inventory-out] [control-planes] [workers]` starts the
 * Kubernetes node hosts and keeps them until
 * SIGTERM/SIGINT, writing their kubestrap inventory to inventory-out;
 * `sweep` removes labs left by crashed runs and restores machine-wide settings.
 */
import { writeFileSync } from 'node:fs';
import { keepUntilSignalled } from '../lab/helpers.js';
import { sweepStaleLabs } from '../lab/lab.js';
import { startClusterLab } from './cluster-lab.js';
import { restoreMachineSysctls } from './machine-sysctls.js';
import { e2eInventory } from './inventory.js';

async function main(): Promise<void> {
  const [command, out, controlPlanes, workers] = process.argv.slice(2);
  if (command === 'sweep') {
    sweepStaleLabs();
    restoreMachineSysctls();
    return;
  }
  if (command === 'up') {
    const cluster = await startClusterLab({ controlPlanes: Number(controlPlanes ?? 1), workers: Number(workers ?? 2) });
    if (out) writeFileSync(out, e2eInventory(cluster));
    console.log(JSON.stringify({ id: cluster.lab.id, packageMirror: cluster.packageMirror, nodes: cluster.nodes }, null, 2));
    keepUntilSignalled(() => cluster.stop());
    return;
  }
  console.error('usage: e2e-lab up [inventory-out] [control-planes] [workers] | e2e-lab sweep');
  process.exit(2);
}

void main();
