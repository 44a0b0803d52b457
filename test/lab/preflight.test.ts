/**
 * Host preparation on namespace lab hosts over real SSH: preflight stops bad runs before any
 * change, one broken host does not stop the others, and a re-run completes only what is missing.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir, WITHOUT_PACKAGES, writeLabInventory } from './helpers.js';
import { startLab, type Lab } from './lab.js';
import { readReport } from './report.js';

let lab: Lab;

beforeAll(async () => {
  lab = await startLab({ hosts: 4, prefix: 'pre' });
  return () => lab.stop();
});

const changedSomething = (host: (typeof lab.hosts)[number]) =>
  lab.inside(host, 'ls /etc/sysctl.d/kubernetes.conf /etc/modules-load.d/kubernetes.conf 2>/dev/null | wc -l').trim() !== '0';

describe('preflight', () => {
  it('catches duplicate hostnames, a port in use, too few CPUs and a missing command — naming each host — and changes nothing', async () => {
    const [cp, a, b, c] = lab.hosts as [(typeof lab.hosts)[0], (typeof lab.hosts)[0], (typeof lab.hosts)[0], (typeof lab.hosts)[0]];
    lab.inside(b, `hostname ${a.name}`);
    lab.inside(cp, '/usr/sbin/sshd -p 6443 -o PidFile=/run/sshd-6443.pid');
    lab.inside(c, 'mv /usr/bin/nsenter /usr/bin/nsenter.hidden');
    const dir = tempDir('preflight');
    const inventory = writeLabInventory(lab, {}, dir);
    const withDemands = readFileSync(inventory, 'utf8').replace('cluster:', 'preparation:\n  requirements:\n    workerCPUs: 64\ncluster:');
    writeFileSync(inventory, withDemands);
    try {
      const r = await runCli(['apply', '-i', inventory, ...WITHOUT_PACKAGES, '--output', 'plain', '--report', join(dir, 'report.json')]);
      expect(r.code).toBe(1);
      const out = r.stdout;
      expect(out).toMatch(
        new RegExp(`\\[ERROR HostnameUnique\\] ${a.name}, ${b.name}: hostname ${a.name} is not unique \\(${a.name}, ${b.name}\\)`),
      );
      expect(out).toMatch(new RegExp(`\\[ERROR Port-6443\\] ${cp.name}: port 6443 is in use by sshd; kube-apiserver needs it`));
      expect(out).toMatch(new RegExp(`\\[ERROR NumCPU\\] ${a.name}, ${b.name}, ${c.name}: has \\d+ CPUs?; a worker needs at least 64`));
      expect(out).toMatch(new RegExp(`\\[ERROR FileExisting-nsenter\\] ${c.name}: nsenter not found in the system path`));
      const report = readReport(join(dir, 'report.json'));
      expect(report.hosts.every((h) => h.changes.length === 0)).toBe(true);
      expect(report.hosts.find((h) => h.name === cp.name)).toMatchObject({ status: 'failed', failedPhase: 'preflight' });
      for (const host of lab.hosts) expect(changedSomething(host)).toBe(false);

      // ignoring the named checks lets the run go ahead
      const ignored = await runCli([
        'plan',
        '-i',
        inventory,
        ...WITHOUT_PACKAGES,
        '--output',
        'silent',
        '--ignore-preflight-errors',
        'NumCPU,HostnameUnique,Port-6443,FileExisting-nsenter',
      ]);
      expect(ignored.code, ignored.stdout).toBe(0);
      expect(ignored.stdout).toContain('(ignored)');
    } finally {
      lab.inside(b, `hostname ${b.name}`);
      lab.inside(cp, 'kill $(cat /run/sshd-6443.pid)');
      lab.inside(c, 'mv /usr/bin/nsenter.hidden /usr/bin/nsenter');
    }
  });

  it('Kubernetes 1.35 on these cgroup v1 hosts: plan fails naming cgroup v1, failCgroupV1 and the way out, and changes nothing; with failCgroupV1: false it passes and the kubelet configuration carries it', async () => {
    const dir = tempDir('cgroup');
    const refused = await runCli([
      'plan',
      '-i',
      writeLabInventory(lab, { cluster: { kubernetesVersion: 'v1.35.5' } }, dir),
      ...WITHOUT_PACKAGES,
      '--output',
      'plain',
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(
      /\[ERROR CgroupsV1\] all 4 hosts: uses cgroup v1, which the Kubernetes v1\.35\.5 kubelet refuses \(failCgroupV1 defaults to true from 1\.35\): move the host to cgroup v2 \(boot with systemd\.unified_cgroup_hierarchy=1\), or to stay on cgroup v1 for now set cluster\.kubelet\.failCgroupV1: false/,
    );
    for (const host of lab.hosts) expect(changedSomething(host)).toBe(false);

    const stayDir = tempDir('cgroup-stay');
    const staying = writeLabInventory(lab, { cluster: { kubernetesVersion: 'v1.35.5', kubelet: { failCgroupV1: false } } }, stayDir);
    const passed = await runCli(['plan', '-i', staying, ...WITHOUT_PACKAGES, '--output', 'plain']);
    expect(passed.code, passed.stdout).toBe(0);
    expect(passed.stdout).toMatch(/\[WARNING CgroupsV1\] all 4 hosts: uses cgroup v1; cluster\.kubelet\.failCgroupV1 is false/);
    const rendered = await runCli(['render', '-i', staying, '--out', join(stayDir, 'out')]);
    expect(rendered.code, rendered.stderr).toBe(0);
    expect(readFileSync(join(stayDir, 'out', lab.hosts[0]!.name, 'var/lib/kubelet/config.yaml'), 'utf8')).toMatch(/^failCgroupV1: false$/m);
    // kubeadm's way works too: the check ignored by name
    const ignored = await runCli([
      'plan',
      '-i',
      join(dir, 'inventory.yaml'),
      ...WITHOUT_PACKAGES,
      '--output',
      'plain',
      '--ignore-preflight-errors',
      'CgroupsV1',
    ]);
    expect(ignored.code, ignored.stdout).toBe(0);
    for (const host of lab.hosts) expect(changedSomething(host)).toBe(false);
  });
});

describe('host preparation', () => {
  it('sets the host name to the node name, now and in /etc/hostname', async () => {
    const host = lab.hosts[1]!;
    lab.inside(host, 'hostname renamed-by-someone; echo renamed-by-someone > /etc/hostname');
    const dir = tempDir('hostname');
    const inventory = writeLabInventory(lab, {}, dir);
    const file = join(dir, 'r.json');
    const only = ['--only', 'hostname', '--hosts', host.name];
    const r = await runCli(['apply', '-i', inventory, ...WITHOUT_PACKAGES, ...only, '--output', 'silent', '--report', file]);
    expect(r.code, r.stdout).toBe(0);
    const report = readReport(file);
    expect(report.hosts[0]!.changes.map((c) => c.target).sort()).toEqual(['/etc/hostname', 'running host name']);
    expect(lab.inside(host, 'hostname; cat /etc/hostname').trim().split('\n')).toEqual([host.name, host.name]);
  });

  it('kernel-level steps end in precise per-host warnings inside containers; the rest completes', async () => {
    const dir = tempDir('prep');
    const inventory = writeLabInventory(lab, {}, dir);
    // a swap entry as a real machine's fstab would have one (lab hosts have no swap device)
    lab.inside(lab.hosts[0]!, 'printf "/dev/sdb1 none swap sw 0 0\\n" >> /etc/fstab');
    const name = lab.hosts[0]!.name;
    const file = join(dir, 'r.json');
    const r = await runCli(['apply', '-i', inventory, ...WITHOUT_PACKAGES, '--hosts', name, '--output', 'silent', '--report', file]);
    expect(r.code, r.stdout).toBe(0);
    const report = readReport(file);
    const host = report.hosts[0]!;
    expect(host.warnings).toEqual(
      expect.arrayContaining([
        { phase: 'kernel-modules', message: expect.stringMatching(/^cannot load ip_vs, .*inside a container \(kubestrap-lab\)/) },
        {
          phase: 'sysctl',
          message: expect.stringMatching(/^cannot set vm\.overcommit_memory, .*read-only inside a container \(kubestrap-lab\)/),
        },
      ]),
    );
    expect(host.changes.map((c) => c.target)).toEqual(
      expect.arrayContaining(['/etc/sysctl.d/kubernetes.conf', '/etc/modules-load.d/kubernetes.conf', '/etc/hosts']),
    );
    // the per-namespace settings did apply
    expect(lab.inside(lab.hosts[0]!, 'sysctl -n net.ipv4.ip_forward').trim()).toBe('1');
    expect(lab.inside(lab.hosts[0]!, 'cat /etc/security/limits.d/kubernetes.conf')).toContain('* soft nofile 655360');
    expect(host.warnings).toEqual(
      expect.arrayContaining([
        { phase: 'time-sync', message: expect.stringMatching(/clock belongs to the machine running this container/) },
      ]),
    );
    // every managed file with its content and mode
    const files = lab.inside(
      lab.hosts[0]!,
      'stat -c "%n %a %U" /etc/sysctl.d/kubernetes.conf /etc/modules-load.d/kubernetes.conf /etc/security/limits.d/kubernetes.conf /etc/hosts /etc/hostname',
    );
    for (const line of files.trim().split('\n')) expect(line).toMatch(/ 644 root$/);
    expect(lab.inside(lab.hosts[0]!, 'cat /etc/sysctl.d/kubernetes.conf')).toContain('net.bridge.bridge-nf-call-iptables = 1');
    const modules = lab.inside(lab.hosts[0]!, 'cat /etc/modules-load.d/kubernetes.conf').trim().split('\n').slice(1);
    expect(modules).toEqual(['overlay', 'br_netfilter', 'ip_vs', 'ip_vs_rr', 'ip_vs_wrr', 'ip_vs_sh', 'nf_conntrack']);
    // fstab swap entry commented out, with a dated backup of the original
    expect(lab.inside(lab.hosts[0]!, 'cat /etc/fstab')).toContain('# /dev/sdb1 none swap sw 0 0 # disabled by kubestrap');
    expect(lab.inside(lab.hosts[0]!, 'cat /etc/fstab.kubestrap-*')).toMatch(/^\/dev\/sdb1 none swap sw 0 0$/m);
    // /etc/hosts: one managed block, also after another run, naming the control plane (this host) and no worker
    await runCli(['apply', '-i', inventory, ...WITHOUT_PACKAGES, '--hosts', lab.hosts[0]!.name, '--output', 'silent']);
    const etcHosts = lab.inside(lab.hosts[0]!, 'cat /etc/hosts');
    expect(etcHosts.split('# BEGIN kubestrap')).toHaveLength(2);
    const [controlPlane, ...workers] = lab.hosts;
    expect(etcHosts).toContain(`${controlPlane!.ip}\t${controlPlane!.name}`);
    for (const h of workers) expect(etcHosts).not.toContain(`${h.ip}\t${h.name}`);
  });

  it('one broken host does not stop the others; the summary names it; a re-run completes only what is missing', async () => {
    const broken = lab.hosts[2]!;
    const others = lab.hosts.filter((h) => h !== broken).map((h) => h.name);
    const dir = tempDir('partial');
    const inventory = writeLabInventory(lab, {}, dir);
    lab.inside(broken, 'rm -rf /etc/modules-load.d && echo "not a directory" > /etc/modules-load.d');
    const first = await runCli(['apply', '-i', inventory, ...WITHOUT_PACKAGES, '--output', 'plain', '--report', join(dir, '1.json')]);
    expect(first.code).toBe(1);
    expect(first.stdout).toMatch(new RegExp(`${broken.name}\\s+failed\\s+\\d+\\s+\\d+\\s+kernel-modules: `));
    const r1 = readReport(join(dir, '1.json'));
    expect(
      r1.hosts
        .filter((h) => h.status === 'ok')
        .map((h) => h.name)
        .sort(),
    ).toEqual(others.sort());
    // the others finished every phase, up to the last ones
    for (const h of lab.hosts.filter((x) => x !== broken)) {
      expect(lab.inside(h, 'grep -c "# BEGIN kubestrap" /etc/hosts; ls /etc/security/limits.d/kubernetes.conf').trim().split('\n')).toEqual(
        ['1', '/etc/security/limits.d/kubernetes.conf'],
      );
    }
    expect(lab.inside(broken, 'ls /etc/security/limits.d/kubernetes.conf 2>/dev/null || echo absent').trim()).toBe('absent');

    lab.inside(broken, 'rm -f /etc/modules-load.d && mkdir /etc/modules-load.d');
    const second = await runCli(['apply', '-i', inventory, ...WITHOUT_PACKAGES, '--output', 'plain', '--report', join(dir, '2.json')]);
    expect(second.code, second.stdout).toBe(0);
    const r2 = readReport(join(dir, '2.json'));
    for (const h of r2.hosts) {
      if (h.name === broken.name) expect(h.changes.length).toBeGreaterThan(0);
      else expect(h.changes).toEqual([]);
    }
  });
});
