/**
 * Full fidelity on a real (software-emulated) VM with its own kernel: after `kubestrap apply`,
 * swap is really off and commented out of fstab, the modules are really loaded and the
 * machine-wide sysctls really applied; the second apply changes nothing.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunLog } from '../../src/log/run-log.js';
import { Host } from '../../src/transport/host.js';
import { HostKeyPolicy } from '../../src/transport/host-keys.js';
import { openSsh } from '../../src/transport/ssh.js';
import { runCli, tempDir } from '../lab/helpers.js';
import { startVm, type Vm } from './vm.js';
import { readReport } from '../lab/report.js';

const PHASES = 'hostname,swap,kernel-modules,sysctl,hosts-file,limits';
let vm: Vm;
let host: Host;
let inventory: string;
let dir: string;
let bootId: string;

beforeAll(async () => {
  vm = await startVm();
  dir = tempDir('vm');
  inventory = join(dir, 'inventory.yaml');
  writeFileSync(
    inventory,
    stringify({
      apiVersion: 'kubestrap.dev/v1alpha1',
      kind: 'Cluster',
      hostDefaults: { user: 'root', auth: { keyPath: vm.clientKey } },
      hosts: [
        {
          name: 'kubestrap-vm',
          address: '127.0.0.1',
          port: vm.sshPort,
          hostKey: vm.hostKey,
          advertiseAddress: '10.0.2.15',
          roles: ['control-plane'],
        },
      ],
      // the VM has 1 CPU and ~960 MB: enough for preparation, below a real control plane's needs
      preparation: { requirements: { controlPlaneCPUs: 1, controlPlaneMemoryMB: 512 } },
      cluster: { kubernetesVersion: 'v1.23.17', networking: { podSubnet: '172.168.0.0/16' } },
    }),
  );
  const channel = await openSsh(
    {
      name: 'kubestrap-vm',
      address: '127.0.0.1',
      port: vm.sshPort,
      user: 'root',
      credentials: { privateKey: readFileSync(vm.clientKey) },
      pinnedHostKey: vm.hostKey,
    },
    { hostKeys: new HostKeyPolicy({ knownHostsFile: join(dir, 'known_hosts'), acceptNew: false }), connectTimeoutMs: 30_000 },
  );
  host = new Host('kubestrap-vm', channel, { kind: 'root' }, RunLog.disabled());
}, 900_000);

afterAll(async () => {
  await host?.close();
  await vm?.stop();
});

const sh = async (cmd: string) => (await host.check(cmd)).stdout;

describe('host preparation on a real VM (software-emulated QEMU)', () => {
  it('starts with swap on, modules not loaded and default kernel settings', async () => {
    bootId = (await sh('cat /proc/sys/kernel/random/boot_id')).trim();
    expect(await sh('awk "NR > 1" /proc/swaps')).toContain('/swapfile');
    expect(await sh('lsmod')).not.toMatch(/^ip_vs /m);
    expect((await sh('sysctl -n vm.overcommit_memory')).trim()).toBe('0');
  });

  it('apply turns swap off now and at boot, loads the modules, applies the sysctls — no warnings', async () => {
    const r = await runCli(['apply', '-i', inventory, '--only', PHASES, '--output', 'plain', '--report', join(dir, '1.json')], {});
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const report = readReport(join(dir, '1.json'));
    expect(report.hosts[0]!.warnings.filter((w) => ['swap', 'kernel-modules', 'sysctl'].includes(w.phase))).toEqual([]);

    expect((await sh('awk "NR > 1" /proc/swaps')).trim()).toBe('');
    const fstab = await sh('cat /etc/fstab');
    expect(fstab).toMatch(/^# \/swapfile none swap sw 0 0 # disabled by kubestrap$/m);
    expect(fstab).toMatch(/^\/dev\/vda \/ ext4/m);
    expect(await sh('ls /etc/fstab.kubestrap-*')).toMatch(/fstab\.kubestrap-\d{14}/);

    const modules = await sh('lsmod');
    for (const m of ['br_netfilter', 'ip_vs', 'ip_vs_rr', 'ip_vs_wrr', 'ip_vs_sh', 'overlay', 'nf_conntrack'])
      expect(modules).toMatch(new RegExp(`^${m} `, 'm'));
    expect(await sh('cat /etc/modules-load.d/kubernetes.conf')).toContain('ip_vs_sh');

    const values = await sh(
      'sysctl -n net.bridge.bridge-nf-call-iptables net.ipv4.ip_forward vm.overcommit_memory fs.file-max net.netfilter.nf_conntrack_max fs.inotify.max_user_watches',
    );
    expect(values.trim().split('\n')).toEqual(['1', '1', '1', '52706963', '2310720', '89100']);
  });

  it('a second apply changes nothing', async () => {
    const r = await runCli(['apply', '-i', inventory, '--only', PHASES, '--output', 'plain', '--report', join(dir, '2.json')], {});
    expect(r.code, r.stdout).toBe(0);
    expect(readReport(join(dir, '2.json')).hosts[0]!.changes).toEqual([]);
  });
});

describe('after a reboot', () => {
  it('swap stays off, the modules load at boot and the sysctls apply at boot', async () => {
    // the same path the kernel phase uses: reboot, then reconnect to the same host
    await host.check('nohup sh -c "sleep 1; systemctl reboot" >/dev/null 2>&1 &');
    await new Promise((r) => setTimeout(r, 5000));
    await host.reconnect(5 * 60_000);
    expect((await sh('cat /proc/sys/kernel/random/boot_id')).trim()).not.toBe(bootId);
    expect((await sh('awk "NR > 1" /proc/swaps')).trim()).toBe('');
    const modules = await sh('lsmod');
    for (const m of ['br_netfilter', 'ip_vs', 'ip_vs_sh', 'overlay']) expect(modules).toMatch(new RegExp(`^${m} `, 'm'));
    expect((await sh('sysctl -n net.bridge.bridge-nf-call-iptables vm.overcommit_memory')).trim().split('\n')).toEqual(['1', '1']);
    const plan = await runCli(['plan', '-i', inventory, '--only', PHASES, '--output', 'silent'], {});
    expect(plan.stdout).toContain('Plan: no changes.');
  });
});
