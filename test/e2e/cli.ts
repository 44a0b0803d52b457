/**
 * Manual control of the e2e lab: `up [state-file]` starts the Kubernetes node hosts and keeps
 * them until SIGTERM/SIGINT, writing what a script needs to reach them (JSON) to state-file;
 * `sweep` removes labs left by crashed runs and restores machine-wide settings.
 */
import { writeFileSync } from 'node:fs';
import { sweepStaleLabs } from '../lab/lab.js';
import { restoreMachineSysctls, startClusterLab } from './cluster-lab.js';

async function main(): Promise<void> {
  const [command, out] = process.argv.slice(2);
  if (command === 'sweep') {
    sweepStaleLabs();
    restoreMachineSysctls();
    return;
  }
  if (command === 'up') {
    const cluster = await startClusterLab();
    const state = {
      id: cluster.lab.id,
      clientKey: cluster.lab.clientKey,
      packageMirror: cluster.packageMirror,
      etcdImageTag: cluster.etcdImageTag,
      nodes: cluster.nodes.map((n) => ({ ...n, podSubnet: cluster.podSubnetOf(n) })),
    };
    if (out) writeFileSync(out, JSON.stringify(state, null, 2));
    console.log(JSON.stringify(state, null, 2));
    const stop = () => void cluster.stop().then(() => process.exit(0));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    setInterval(() => undefined, 1 << 30);
    return;
  }
  console.error('usage: e2e-lab up [state-file] | e2e-lab sweep');
  process.exit(2);
}

void main();
