/**
 * The e2e lab comes up and goes away cleanly, three times in a row: after each teardown nothing
 * is left on this machine (mounts, network namespaces, links, processes, cgroups, nspawn state)
 * and the machine-wide kernel settings are back to what they were.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { startClusterLab } from './cluster-lab.js';

const MACHINE_SYSCTLS = ['vm/overcommit_memory', 'kernel/panic', 'kernel/panic_on_oops', 'fs/inotify/max_user_instances'];

function listing(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** What a lab could leave behind, as comparable text. */
function machineState() {
  const commands = execFileSync('ps', ['-e', '-o', 'comm='], { encoding: 'utf8' }).split('\n');
  return {
    mounts: readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ').slice(4, 5).join('')).filter((m) => /kubestrap|kslab|containerd|kubelet/.test(m)),
    netns: listing('/run/netns').filter((n) => n.startsWith('kslab')),
    links: execFileSync('ip', ['-br', 'link'], { encoding: 'utf8' }).split('\n').filter((l) => /^(kslab|ksv)/.test(l)),
    processes: commands.filter((c) => /^(systemd-nspawn|containerd|containerd-shim|kubelet|kube-|etcd|pause|sshd: root)/.test(c)).sort(),
    cgroups: ['memory', 'pids', 'cpu', 'systemd'].flatMap((h) => listing(`/sys/fs/cgroup/${h}`).filter((g) => g.startsWith('kslab')).map((g) => `${h}/${g}`)),
    nspawn: listing('/run/systemd/nspawn'),
    work: listing('/var/tmp/kubestrap-lab'),
    sysctls: MACHINE_SYSCTLS.map((s) => `${s}=${readFileSync(`/proc/sys/${s}`, 'utf8').trim()}`),
  };
}

test('the e2e lab starts 3 nodes running containers and tears down leaving nothing behind, 3 times in a row', async () => {
  const before = machineState();
  for (let round = 1; round <= 3; round++) {
    const cluster = await startClusterLab({ workers: 2 });
    try {
      expect(machineState().sysctls, `round ${round}: kubelet's machine-wide settings in place`).not.toEqual(before.sysctls);
      await Promise.all(
        cluster.nodes.map(async (node) => {
          // a real container through containerd and runc, in the node's own cgroup
          await cluster.lab.run(node, 'ctr -n k8s.io run -d registry.local/busybox:1 cycle-probe sleep 600 >/dev/null');
          const tasks = await cluster.lab.run(node, 'ctr -n k8s.io tasks ls');
          expect(tasks, `${node.name}: round ${round}`).toMatch(/cycle-probe\s+\d+\s+RUNNING/);
          expect((await cluster.lab.run(node, 'systemctl is-system-running || true')).trim(), node.name).toMatch(/running|degraded|starting/);
        }),
      );
    } finally {
      await cluster.stop();
    }
    expect(machineState(), `round ${round}: machine state after teardown`).toEqual(before);
  }
});
