/**
 * kubestrap doctor's findings from what hosts answer (host-free: the answers as the batched read
 * returns them), certificate rows, the report, the JSON and the exit codes, and its flags.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { certificateFindings } from '../../src/doctor/certificate-checks.js';
import { doctorJson, DOCTOR_SCHEMA, exitCode, formatDoctor, type Finding } from '../../src/doctor/finding.js';
import { hostFindings, hostQuestions, type HostQuestion } from '../../src/doctor/host-checks.js';
import type { HostFacts } from '../../src/facts/probe.js';
import { loadInventory } from '../../src/inventory/load.js';
import { resolveHosts } from '../../src/inventory/resolve.js';
import type { ExpirationRow } from '../../src/pki/expiration.js';

const FACTS: HostFacts = {
  os: { id: 'debian', versionId: '12', codename: 'bookworm', like: [], prettyName: 'Debian GNU/Linux 12 (bookworm)' },
  packageManager: 'apt',
  initSystem: 'systemd',
  kernel: '6.1.0-28-amd64',
  arch: 'amd64',
  cgroupVersion: 2,
  cpus: 2,
  memoryMB: 4096,
  hostname: 'k8s-node01',
  container: undefined,
  procSysWritable: true,
  productUuid: 'x',
  macAddresses: [],
};

const kubestrap = (args: string) => `kubestrap ${args} -i cluster.yaml`;

/** The runbook's inventory (1.23, IPVS): its worker k8s-node01 and control plane k8s-master01. */
async function context(host = 'k8s-node01') {
  const inventory = (await loadInventory('inventories/1cp-2workers.yaml', { checkKeyFiles: false })).inventory;
  return { inventory, spec: resolveHosts(inventory).find((h) => h.name === host)!, facts: FACTS };
}

/** What a healthy host answers, at 1 000 000 ms by its clock. */
const HEALTHY: Partial<Record<HostQuestion, string[]>> = {
  now: ['1000000'],
  swaps: [],
  sysctl: ['net.ipv4.ip_forward 1', 'net.bridge.bridge-nf-call-iptables 1', 'fs.inotify.max_user_watches 89100'],
  modules: [],
  'service-containerd': ['enabled enabled', 'active active'],
  'log-containerd': ['started'],
  'service-kubelet': ['enabled enabled', 'active active'],
  'log-kubelet': ['started'],
  disk: ['/var/lib/containerd 41% /', '/var/lib/kubelet 41% /'],
};
const IN_TIME = { sent: 999_900, received: 1_000_100 };

describe('host findings', () => {
  it('a healthy host has none', async () => {
    expect(hostFindings(await context(), HEALTHY, IN_TIME, kubestrap)).toEqual([]);
  });

  it('each fault is one finding naming the host, with why and the command that fixes it', async () => {
    const sick = {
      ...HEALTHY,
      swaps: ['/swapfile'],
      sysctl: ['net.ipv4.ip_forward 0', 'net.bridge.bridge-nf-call-iptables 1', 'fs.inotify.max_user_watches 8192'],
      modules: ['overlay present', 'br_netfilter missing'],
      'service-containerd': ['enabled enabled', 'active inactive'],
      'log-containerd': ['token abcdef.0123456789abcdef refused', 'containerd: exiting'],
      disk: ['/var/lib/containerd 93% /var/lib/containerd', '/var/lib/kubelet 85% /'],
      now: ['1004000'],
    };
    const found = hostFindings(await context(), sick, IN_TIME, kubestrap);
    expect(found.map((f) => [f.severity, f.subject, f.problem, f.fix])).toEqual([
      ['error', 'k8s-node01', 'swap is on (/swapfile)', 'kubestrap apply --only swap --hosts k8s-node01 -i cluster.yaml'],
      [
        'error',
        'k8s-node01',
        'kernel setting net.ipv4.ip_forward is 0, not 1',
        'kubestrap apply --only sysctl --hosts k8s-node01 -i cluster.yaml',
      ],
      [
        'warning',
        'k8s-node01',
        'kernel setting fs.inotify.max_user_watches is 8192, not 89100',
        'kubestrap apply --only sysctl --hosts k8s-node01 -i cluster.yaml',
      ],
      [
        'error',
        'k8s-node01',
        'kernel module not loaded: br_netfilter',
        'kubestrap apply --only kernel-modules --hosts k8s-node01 -i cluster.yaml',
      ],
      [
        'error',
        'k8s-node01',
        'containerd is not running; its last log lines: token abcdef.[REDACTED] refused | containerd: exiting',
        'on k8s-node01: systemctl daemon-reload && systemctl enable --now containerd',
      ],
      [
        'error',
        'k8s-node01',
        'the filesystem under /var/lib/containerd (/var/lib/containerd) is 93% full',
        'on k8s-node01: crictl rmi --prune (removes the images no container uses), then free space on /var/lib/containerd',
      ],
      [
        'warning',
        'k8s-node01',
        'the filesystem under /var/lib/kubelet (/) is 85% full',
        'on k8s-node01: crictl rmi --prune (removes the images no container uses), then free space on /',
      ],
      [
        'error',
        'k8s-node01',
        "its clock is 3.9 s ahead of this workstation's",
        'kubestrap apply --only time-sync --hosts k8s-node01 -i cluster.yaml',
      ],
    ]);
    for (const f of found) expect(f.why.length, f.problem).toBeGreaterThan(20);
  });

  it('a clock read within the round trip is no skew however long the round trip was; one behind by more than 2 s is', async () => {
    const c = await context();
    expect(hostFindings(c, { ...HEALTHY, now: ['1000000'] }, { sent: 990_000, received: 1_010_000 }, kubestrap)).toEqual([]);
    expect(hostFindings(c, { ...HEALTHY, now: ['997000'] }, IN_TIME, kubestrap).map((f) => f.problem)).toEqual([
      "its clock is 2.9 s behind this workstation's",
    ]);
  });

  it("a control plane is asked which certificate its API server serves; one other than the file's is a finding", async () => {
    const cp = await context('k8s-master01');
    expect(Object.keys(hostQuestions(cp))).toContain('cert-served');
    expect(Object.keys(hostQuestions(await context()))).not.toContain('cert-served');
    const answers = { ...HEALTHY, 'cert-disk': ['sha256 Fingerprint=AA'], 'cert-served': ['sha256 Fingerprint=BB'] };
    expect(hostFindings(cp, answers, IN_TIME, kubestrap).map((f) => f.fix)).toEqual([
      'kubestrap certs renew apiserver --hosts k8s-master01 -i cluster.yaml',
    ]);
    expect(hostFindings(cp, { ...answers, 'cert-served': ['sha256 Fingerprint=AA'] }, IN_TIME, kubestrap)).toEqual([]);
  });

  it('inside a container the machine loads modules and keeps the clock: the fix says so', async () => {
    const c = { ...(await context()), facts: { ...FACTS, container: 'systemd-nspawn' } };
    const found = hostFindings(c, { ...HEALTHY, modules: ['overlay missing'], now: ['1010000'] }, IN_TIME, kubestrap);
    expect(found.map((f) => f.fix)).toEqual([
      'load overlay on the machine running the container k8s-node01 (modprobe)',
      'correct the clock of the machine running the container k8s-node01',
    ]);
  });
});

const row = (name: string, kind: ExpirationRow['kind'], residualDays: number, node = 'cp-1', authority = 'ca'): ExpirationRow => ({
  node,
  name,
  kind,
  expires: new Date(Date.UTC(2027, 0, 1) + residualDays * 86_400_000).toISOString(),
  residualDays,
  authority,
});

describe('certificate findings', () => {
  it('expired is an error, within 30 days a warning (a CA within a year); the kubelet fallback is not reported', () => {
    const rows = [
      row('apiserver', 'certificate', -1),
      row('admin.conf', 'kubeconfig', 2),
      row('front-proxy-client', 'certificate', 200),
      row('ca', 'ca', 300),
      row('kubelet client (rotating)', 'certificate', -3, 'worker-1'),
      row('kubelet client (rotating)', 'certificate', 5),
      row('kubelet serving (self-signed)', 'certificate', -100, 'worker-1', 'self'),
    ];
    const found = certificateFindings(rows, kubestrap, new Set(['cp-1']));
    expect(found.map((f) => `${f.severity} ${f.subject}: ${f.problem} => ${f.fix}`)).toEqual([
      'error cp-1: apiserver expired on 2026-12-31 => kubestrap certs renew all -i cluster.yaml',
      'warning cp-1: the client certificate of admin.conf expires in 2 days (2027-01-03) => kubestrap certs renew all -i cluster.yaml',
      'warning cp-1: ca expires in 300 days (2027-10-28) => kubestrap cannot rotate a CA yet: follow "Manual Rotation of CA Certificates" in the Kubernetes documentation',
      'error worker-1: kubelet client (rotating) expired on 2026-12-29 => kubestrap remove-node worker-1 --yes -i cluster.yaml, then kubestrap apply -i cluster.yaml (joins it again with a new kubelet client certificate)',
      'warning cp-1: kubelet client (rotating) expires in 5 days (2027-01-06) => kubestrap certs renew kubelet.conf --hosts cp-1 -i cluster.yaml (a new client certificate in its kubelet.conf)',
    ]);
  });
});

describe('the report', () => {
  const error: Finding = { severity: 'error', group: 'hosts', subject: 'worker-1', problem: 'swap is on', why: 'w', fix: 'f' };
  const warning: Finding = { ...error, severity: 'warning', problem: 'disk 85% full' };

  it('exit code 0 healthy, 1 warnings, 2 errors; errors listed first; one summary line', () => {
    expect(exitCode([])).toBe(0);
    expect(exitCode([warning])).toBe(1);
    expect(exitCode([warning, error])).toBe(2);
    const text = formatDoctor([warning, error], '3 hosts');
    expect(text.indexOf('ERROR')).toBeLessThan(text.indexOf('WARNING'));
    expect(text.split('\n').at(-1)).toBe('doctor: 1 error, 1 warning (3 hosts)');
    expect(formatDoctor([], '3 hosts')).toBe('doctor: healthy, no finding (3 hosts)');
  });

  it('the JSON names its schema and counts; a finding from a hostile cluster cannot move the terminal', () => {
    expect(doctorJson([warning, error], '3 hosts')).toEqual({
      schema: DOCTOR_SCHEMA,
      examined: '3 hosts',
      errors: 1,
      warnings: 1,
      findings: [error, warning],
    });
    expect(formatDoctor([{ ...error, problem: 'x\u001b[2Jy' }], '1 host')).not.toContain('\u001b');
  });
});

describe('kubestrap doctor flags', () => {
  it('an unknown check group is a usage error naming the groups, before any host is touched', () => {
    const r = spawnSync(process.execPath, ['bin/kubestrap.js', 'doctor', '-i', 'inventories/1cp-2workers.yaml', '--only', 'certs'], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--only: unknown check group certs; the groups are hosts, certificates, etcd, cluster');
  });
});
