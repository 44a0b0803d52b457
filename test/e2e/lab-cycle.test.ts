/**
 * The e2e lab comes up and goes away cleanly, three times in a row: after each teardown nothing
 * of it is left on this machine (mounts, network namespaces, links, processes, cgroups, nspawn
 * state) and the machine-wide kernel settings are back to what they were — or, while another
 * e2e file's lab runs beside it (two files at a time), still what that lab's kubelets need.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { startClusterLab } from './cluster-lab.js';
import { KUBELET_MACHINE_SYSCTLS, machineSysctlClaims } from './machine-sysctls.js';

const MACHINE_SYSCTLS = ['vm/overcommit_memory', 'kernel/panic', 'kernel/panic_on_oops', 'fs/inotify/max_user_instances'];

function listing(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function readSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** The lab ids a text names (kslab2-1, ksv2x1, /var/tmp/kubestrap-lab/2/…). */
const labIds = (text: string) =>
  [...text.matchAll(/kslab(\d+)|ksv(\d+)x|kubestrap-lab\/(\d+)(?:\/|$)/g)].map((m) => Number(m[1] ?? m[2] ?? m[3]));
/** Whether a text belongs to a lab other than those in `mine` (another e2e file's, running beside this one). */
const othersOnly = (mine: ReadonlySet<number>) => (text: string) => {
  const ids = labIds(text);
  return ids.length === 0 || ids.some((id) => mine.has(id));
};

/** What a lab could leave behind, as comparable text: everything but what other labs running now hold. */
function machineState(mine: ReadonlySet<number>) {
  const keep = othersOnly(mine);
  const processes = listing('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map((pid) => ({
      comm: readSafe(`/proc/${pid}/comm`).trim(),
      owner: `${readSafe(`/proc/${pid}/cgroup`)} ${readSafe(`/proc/${pid}/cmdline`).replaceAll('\0', ' ')}`,
    }))
    .filter((p) => /^(systemd-nspawn|containerd|containerd-shim|kubelet|kube-|etcd|pause|sshd)/.test(p.comm) && keep(p.owner))
    .filter((p) => p.comm !== 'sshd' || p.owner.includes('kslab'))
    .map((p) => p.comm)
    .sort();
  return {
    mounts: readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ').slice(4, 5).join(''))
      .filter((m) => /kubestrap|kslab|containerd|kubelet/.test(m) && keep(m)),
    netns: listing('/run/netns').filter((n) => n.startsWith('kslab') && keep(n)),
    links: execFileSync('ip', ['-br', 'link'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => /^(kslab|ksv)/.test(l) && keep(l.split(/[\s@]/)[0]!)),
    processes,
    cgroups: ['memory', 'pids', 'cpu', 'systemd'].flatMap((h) =>
      listing(`/sys/fs/cgroup/${h}`)
        .filter((g) => g.startsWith('kslab') && keep(g))
        .map((g) => `${h}/${g}`),
    ),
    nspawn: listing('/run/systemd/nspawn/propagate').filter(keep),
    work: listing('/var/tmp/kubestrap-lab').filter((d) => keep(`kubestrap-lab/${d}`)),
  };
}

const sysctls = () =>
  Object.fromEntries(MACHINE_SYSCTLS.map((s) => [s.replaceAll('/', '.'), readFileSync(`/proc/sys/${s}`, 'utf8').trim()]));

/**
 * The machine-wide values after a teardown: the machine's own when no other lab holds a claim,
 * else still the nodes' (a lab that ends must not take them from a lab that runs).
 */
function expectMachineSysctls(own: Record<string, string>, round: number): void {
  const { claims, originals } = machineSysctlClaims();
  const now = sysctls();
  if (claims === 0) expect(now, `round ${round}: the machine's own kernel settings back`).toEqual(own);
  else {
    expect(originals, `round ${round}: the machine's own settings kept for when the last lab ends`).toEqual(own);
    for (const [name, value] of Object.entries(KUBELET_MACHINE_SYSCTLS))
      expect(now[name], `round ${round}: ${name} kept for the lab beside`).toBe(value);
  }
}

test('the e2e lab starts 3 nodes running containers and tears down leaving nothing behind, 3 times in a row', async () => {
  const mine = new Set<number>();
  const before = machineState(mine);
  // the machine's own values: saved by the first lab that claimed them, or what it has now
  const own = machineSysctlClaims().originals ?? sysctls();
  for (let round = 1; round <= 3; round++) {
    const cluster = await startClusterLab({ workers: 2 });
    mine.add(cluster.lab.id);
    try {
      for (const [name, value] of Object.entries(KUBELET_MACHINE_SYSCTLS))
        expect(sysctls()[name], `round ${round}: kubelet's ${name} in place`).toBe(value);
      await Promise.all(
        cluster.nodes.map(async (node) => {
          // a real container through containerd and runc, in the node's own cgroup
          await cluster.lab.run(node, 'ctr -n k8s.io run -d registry.local/busybox:1 cycle-probe sleep 600 >/dev/null');
          const tasks = await cluster.lab.run(node, 'ctr -n k8s.io tasks ls');
          expect(tasks, `${node.name}: round ${round}`).toMatch(/cycle-probe\s+\d+\s+RUNNING/);
          expect((await cluster.lab.run(node, 'systemctl is-system-running || true')).trim(), node.name).toMatch(
            /running|degraded|starting/,
          );
        }),
      );
    } finally {
      await cluster.stop();
    }
    // an id another e2e file's lab took again right after this teardown is that lab's now
    const leftBehind = new Set([...mine].filter((id) => !existsSync(`/run/kubestrap-lab/${id}`)));
    expect(machineState(leftBehind), `round ${round}: machine state after teardown`).toEqual(before);
    expectMachineSysctls(own, round);
  }
});
