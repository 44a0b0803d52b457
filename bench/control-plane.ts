/**
 * Time from `kubestrap apply` to a healthy API server on the e2e lab (one fresh real node:
 * systemd-nspawn host with containerd, packages from the lab mirror), and how much of it is
 * kubestrap's own work: the CPU time of the kubestrap process (user + system) against the wall
 * time; the rest is waiting on the host (package installs, containerd, kubelet, etcd and the API
 * server starting). The API's /livez is polled from the workstation every 250 ms.
 * Run: npm run bench:control-plane [runs]
 */
import { writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { join } from 'node:path';
import { main } from '../src/cli/main.js';
import { tempDir } from '../test/lab/helpers.js';
import { startClusterLab } from '../test/e2e/cluster-lab.js';
import { e2eInventory } from '../test/e2e/inventory.js';

function live(ip: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get({ host: ip, port: 6443, path: '/livez', rejectUnauthorized: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => {
      resolve(false);
    });
    req.on('timeout', () => req.destroy());
  });
}

async function once(): Promise<{ healthyMs: number; applyMs: number; cpuMs: number }> {
  const cluster = await startClusterLab({ workers: 0 });
  try {
    const inventory = join(tempDir('bench-cp'), 'inventory.yaml');
    writeFileSync(inventory, e2eInventory(cluster));
    process.env.KUBESTRAP_HOME = tempDir('bench-cp-home');
    const started = Date.now();
    const cpu = process.cpuUsage();
    let healthyMs = 0;
    const poll = (async () => {
      while (!healthyMs) {
        if (await live(cluster.controlPlane.ip)) healthyMs = Date.now() - started;
        else await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const code = await main(['node', 'kubestrap', 'apply', '-i', inventory, '--output', 'silent']);
    const applyMs = Date.now() - started;
    const used = process.cpuUsage(cpu);
    if (code !== 0) throw new Error(`apply exited with ${code}`);
    await poll;
    return { healthyMs, applyMs, cpuMs: (used.user + used.system) / 1000 };
  } finally {
    await cluster.stop();
  }
}

const runs = Number(process.argv[2] ?? 1);
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
console.log('apply on a fresh e2e node (prepare + control plane): start → API /livez 200, whole apply, kubestrap CPU');
for (let i = 1; i <= runs; i++) {
  const r = await once();
  console.log(
    `run ${i}: API healthy after ${s(r.healthyMs)}; apply done after ${s(r.applyMs)}; kubestrap CPU ${s(r.cpuMs)} = ${((100 * r.cpuMs) / r.applyMs).toFixed(0)}% of the apply, the rest waiting on the host`,
  );
}
