/**
 * Preflight checks: per host (resources, ports, commands, kernel, swap, clock, runtime sockets,
 * firewall, SELinux, containers, mirrors) and across hosts (unique hostnames, MAC addresses and
 * product UUIDs). Each finding has a stable check name, as kubeadm's do, so that operators can
 * ignore specific ones with --ignore-preflight-errors.
 */
import type { HostFacts } from '../facts/probe.js';
import { isControlPlane } from '../inventory/resolve.js';
import type { Inventory } from '../inventory/schema.js';
import { hostProblems } from '../airgap/bundle.js';
import type { OpenBundle } from '../kit/bundle.js';
import { kernelAtLeast } from '../util/kernel.js';
import { parseVersion } from '../util/version.js';
import { containerdSupport, KUBEADM_CHANGES, versionTriple, KUBERNETES_CHANGES } from '../../templates/versions.js';
import type { Gate, GateFinding, Observed as GateObserved } from '../kit/gate.js';
import { gatherSnapshot, RECOMMENDED_COMMANDS, REQUIRED_COMMANDS, type HostSnapshot } from './gather.js';

export type Severity = GateFinding['severity'];
export type PreflightFinding = GateFinding;
export type Observed = GateObserved<HostSnapshot>;

const CONTROL_PLANE_PORTS: ReadonlyArray<{ port: number; owner: string }> = [
  { port: 6443, owner: 'kube-apiserver' },
  { port: 2379, owner: 'etcd' },
  { port: 2380, owner: 'etcd' },
  { port: 10250, owner: 'kubelet' },
  { port: 10257, owner: 'kube-controller' },
  { port: 10259, owner: 'kube-scheduler' },
];
const NODE_PORT_RANGE = { from: 30000, to: 32767 };
const CLOCK_SKEW_WARN_MS = 5_000;
/** Certificates are backdated 5 minutes; past a minute of skew, tokens and etcd misbehave first. */
const CLOCK_SKEW_ERROR_MS = 60_000;

/** The image registry and package repository hosts will download from, for the mirror check. */
export function mirrorUrls(inv: Inventory): string[] {
  // an air-gapped site's nodes reach neither: everything comes from the bundle
  if (inv.cluster.airgap.bundle) return [];
  const registry = inv.cluster.imageRepository.split('/')[0]!;
  const urls = [`https://${registry}/v2/`];
  if (inv.cluster.packages.source === 'mirror' && inv.cluster.packages.mirror) urls.push(inv.cluster.packages.mirror);
  if (inv.cluster.packages.source === 'upstream') urls.push('https://pkgs.k8s.io/');
  return urls;
}

function hostChecks(inv: Inventory, { target, snapshot }: Observed): PreflightFinding[] {
  const out: PreflightFinding[] = [];
  const host = target.spec.name;
  const add = (check: string, severity: Severity, message: string) => out.push({ check, severity, host, message });
  const f = target.facts;
  const cp = isControlPlane(target.spec);
  const req = inv.preparation.requirements;
  const [cpus, memory] = cp ? [req.controlPlaneCPUs, req.controlPlaneMemoryMB] : [req.workerCPUs, req.workerMemoryMB];
  const role = cp ? 'a control plane' : 'a worker';
  if (f.cpus < cpus) add('NumCPU', 'error', `has ${f.cpus} CPU${f.cpus === 1 ? '' : 's'}; ${role} needs at least ${cpus}`);
  if (f.memoryMB < memory) add('Mem', 'error', `has ${f.memoryMB} MB of memory; ${role} needs at least ${memory} MB`);

  // etcd's ports are checked only where etcd will run (kubeadm checks them for a local etcd only)
  const cpPorts = inv.cluster.etcd.external ? CONTROL_PLANE_PORTS.filter((p) => p.owner !== 'etcd') : CONTROL_PLANE_PORTS;
  const ports = cp ? cpPorts : CONTROL_PLANE_PORTS.filter((p) => p.port === 10250);
  for (const { port, owner } of ports) {
    const taken = snapshot.listeners.find((l) => l.port === port);
    // a re-run on a working node finds its own components there, which is fine
    if (taken && !taken.process.startsWith(owner))
      add(
        `Port-${port}`,
        'error',
        `port ${port} is in use by ${taken.process === '-' ? 'an unknown process' : taken.process}; ${owner} needs it`,
      );
  }
  if (!cp) {
    const inRange = snapshot.listeners.filter(
      (l) => l.port >= NODE_PORT_RANGE.from && l.port <= NODE_PORT_RANGE.to && l.process !== 'kube-proxy',
    );
    if (inRange.length)
      add(
        'Port-30000-32767',
        'error',
        `ports ${inRange.map((l) => `${l.port} (${l.process})`).join(', ')} lie in the NodePort range 30000-32767`,
      );
  }

  for (const cmd of REQUIRED_COMMANDS)
    if (snapshot.commands.get(cmd) === false) add(`FileExisting-${cmd}`, 'error', `${cmd} not found in the system path`);
  const missing = RECOMMENDED_COMMANDS.filter((c) => snapshot.commands.get(c) === false);
  if (missing.length)
    add(
      'FileExisting-recommended',
      'warning',
      `${missing.join(', ')} not found in the system path (used by kube-proxy, port-forwarding and network debugging)`,
    );

  if (!kernelAtLeast(f.kernel, inv.preparation.kernel.minimum)) {
    add(
      'KernelVersion',
      'warning',
      `kernel ${f.kernel} is older than ${inv.preparation.kernel.minimum}: before 4.19 IPVS needs nf_conntrack_ipv4 instead of nf_conntrack, and overlayfs and cgroup memory accounting have known leaks (RHEL 7's 3.10); consider preparation.kernel.upgrade`,
    );
  }
  const version = parseVersion(inv.cluster.kubernetesVersion);
  const cgroup = cgroupProblem(inv, f);
  if (cgroup) add('CgroupsV1', cgroup.severity, cgroup.message);
  if (version && snapshot.containerdVersion) {
    const cri = containerdProblem(version.minor, snapshot.containerdVersion);
    if (cri) add('ContainerRuntimeVersion', cri.severity, cri.message);
  }
  if (inv.cluster.kubeProxy.mode === 'nftables' && inv.cluster.addons.kubeProxy && !kernelAtLeast(f.kernel, '5.13')) {
    add(
      'KernelVersion-nftables',
      'error',
      `kernel ${f.kernel} is older than 5.13, which kube-proxy's nftables mode needs; use cluster.kubeProxy.mode: iptables or upgrade the kernel (preparation.kernel.upgrade)`,
    );
  }
  if (snapshot.swapActive && f.container)
    add(
      'Swap',
      'warning',
      `swap is on, and inside a container (${f.container}) it cannot be turned off; the kubelet needs failSwapOn: false there`,
    );
  else if (snapshot.swapActive && !inv.preparation.swapOff)
    add('Swap', 'error', 'swap is on and preparation.swapOff is false; the kubelet refuses to start with swap');

  const skew = snapshot.clockSkewMs;
  const skewText = `its clock is ${(Math.abs(skew) / 1000).toFixed(1)} s ${skew > 0 ? 'ahead of' : 'behind'} the workstation's`;
  if (Math.abs(skew) > CLOCK_SKEW_ERROR_MS)
    add(
      'ClockSkew',
      'error',
      `${skewText}; certificates, tokens and etcd need synchronised clocks (time sync is set up by the base-settings phase)`,
    );
  else if (Math.abs(skew) > CLOCK_SKEW_WARN_MS) add('ClockSkew', 'warning', skewText);

  const configured = inv.cluster.containerRuntime.socket.replace(/^unix:\/\//, '');
  const others = snapshot.criSockets.filter((s) => s !== configured);
  if (others.length)
    add(
      'CRISocket',
      'warning',
      `other container runtime sockets exist (${others.join(', ')}); kubestrap configures ${configured} explicitly`,
    );
  // kubeadm's Corefile forwards to the node's resolv.conf: without a name server CoreDNS exits at start ("plugin/forward: no nameservers found")
  if (inv.cluster.addons.coreDNS && snapshot.nameServers.length === 0) {
    add(
      'NameServers',
      'warning',
      '/etc/resolv.conf names no name server: CoreDNS, which forwards other names to it, exits at start (CrashLoopBackOff: "plugin/forward: no nameservers found") when it runs here; add a nameserver line (the site\'s DNS server)',
    );
  }
  if (snapshot.firewalld === 'active') add('Firewalld', 'warning', 'firewalld is active: the Kubernetes ports must be open between nodes');
  if (snapshot.ufw === 'active') add('Ufw', 'warning', 'ufw is active: the Kubernetes ports must be open between nodes');
  if (snapshot.selinux === 'Enforcing')
    add('SELinux', 'warning', 'SELinux is enforcing; containers need it permissive unless the policies are installed');
  if (f.container) {
    add(
      'Container',
      'warning',
      `is a container (${f.container}): loading kernel modules, turning swap off and machine-wide kernel settings are impossible here and must be done on the machine that runs it`,
    );
  }
  for (const [url, code] of snapshot.mirrors) {
    if (code === 'unreachable' || code.startsWith('5'))
      add(
        'Mirror',
        'warning',
        `${url} does not answer from this host (${code}); downloads of packages or images will fail unless they are preloaded`,
      );
  }
  return out;
}

/** A cgroup v1 host against the release: refused from 1.35 unless the inventory keeps it (upgrades check it too). */
export function cgroupProblem(
  inv: Inventory,
  facts: Pick<HostFacts, 'cgroupVersion'>,
): { severity: Severity; message: string } | undefined {
  const version = parseVersion(inv.cluster.kubernetesVersion);
  if (facts.cgroupVersion !== 1 || !version) return undefined;
  if (KUBEADM_CHANGES.cgroupV1Refused(version)) {
    // kubeadm's SystemVerification fails here too (#134744): the 1.35 kubelet exits on cgroup v1 by default
    if (inv.cluster.kubelet.failCgroupV1 === false) {
      return {
        severity: 'warning',
        message: `uses cgroup v1; cluster.kubelet.failCgroupV1 is false, so the Kubernetes ${version.text} kubelet will run on it, deprecated: move the host to cgroup v2 (systemd.unified_cgroup_hierarchy=1)`,
      };
    }
    return {
      severity: 'error',
      message: `uses cgroup v1, which the Kubernetes ${version.text} kubelet refuses (failCgroupV1 defaults to true from 1.35): move the host to cgroup v2 (boot with systemd.unified_cgroup_hierarchy=1), or to stay on cgroup v1 for now set cluster.kubelet.failCgroupV1: false in the inventory`,
    };
  }
  if (KUBERNETES_CHANGES.cgroupV1Maintenance(version))
    return {
      severity: 'warning',
      message: `uses cgroup v1, which Kubernetes ${version.text} keeps only in maintenance mode; prefer cgroup v2`,
    };
  return undefined;
}

/** containerd against the Kubernetes release (containerd's support matrix; CRI v1alpha2 before 1.26). */
export function containerdProblem(minor: number, version: string): { severity: Severity; message: string } | undefined {
  const v = versionTriple(version);
  if (!v) return undefined;
  if (v[0] < 1 || (v[0] === 1 && v[1] < 6))
    return {
      severity: 'error',
      message: `containerd ${version} is older than 1.6: Kubernetes 1.26+ needs the CRI v1 API of containerd 1.6 or newer; upgrade containerd`,
    };
  if (v[0] >= 2 && !KUBERNETES_CHANGES.criV1Only({ minor }))
    return {
      severity: 'error',
      message: `containerd ${version} has no CRI v1alpha2 API, the only one the Kubernetes 1.${minor} kubelet speaks: use containerd 1.6 or 1.7, or Kubernetes 1.26+`,
    };
  const support = containerdSupport(minor, version);
  if (support && !support.ok)
    return {
      severity: 'warning',
      message: `containerd ${version} is not among the releases Kubernetes 1.${minor} is supported on (${support.supported}, containerd's RELEASES.md); upgrade containerd`,
    };
  return undefined;
}

/** Facts that must differ between hosts: a clash breaks node identity or networking. */
function crossHostChecks(observed: readonly Observed[]): PreflightFinding[] {
  const out: PreflightFinding[] = [];
  const clashes = (check: string, what: string, values: (o: Observed) => readonly string[]) => {
    const owners = new Map<string, string[]>();
    for (const o of observed) for (const v of new Set(values(o))) owners.set(v, [...(owners.get(v) ?? []), o.target.spec.name]);
    for (const [value, hosts] of owners) {
      if (hosts.length < 2) continue;
      for (const host of hosts)
        out.push({
          check,
          severity: 'error',
          host,
          message: `${what} ${value} is not unique (${hosts.join(', ')}); every node needs its own`,
        });
    }
  };
  clashes('HostnameUnique', 'hostname', (o) => [o.target.facts.hostname.toLowerCase()]);
  clashes('MacUnique', 'MAC address', (o) => o.target.facts.macAddresses);
  clashes('ProductUuidUnique', 'product_uuid', (o) => (o.target.facts.productUuid ? [o.target.facts.productUuid] : []));
  return out;
}

export function evaluate(inv: Inventory, observed: readonly Observed[], bundle?: Pick<OpenBundle, 'manifest'>): PreflightFinding[] {
  return [...observed.flatMap((o) => hostChecks(inv, o)), ...crossHostChecks(observed), ...(bundle ? bundleChecks(bundle, observed) : [])];
}

/** The bundle has each host's platform and package family (what the hosts are is known only once they answer). */
function bundleChecks(bundle: Pick<OpenBundle, 'manifest'>, observed: readonly Observed[]): PreflightFinding[] {
  return observed.flatMap(({ target }) =>
    hostProblems(bundle, target.facts.arch, target.facts.packageManager, true).map((message) => ({
      check: 'AirgapBundle',
      severity: 'error' as const,
      host: target.spec.name,
      message,
    })),
  );
}

/** Preflight as the gate before the phases: each host's snapshot (its mirrors probed), then every check, --ignore-preflight-errors applied. */
export function preflightGate(inv: Inventory, ignore: ReadonlySet<string>, bundle?: Pick<OpenBundle, 'manifest'>): Gate<HostSnapshot> {
  const urls = mirrorUrls(inv);
  return {
    read: (target) => gatherSnapshot(target.host, urls),
    judge: (observed) => applyIgnores(evaluate(inv, observed, bundle), ignore),
  };
}

/** --ignore-preflight-errors: named checks (or `all`) become warnings. */
export function applyIgnores(findings: readonly PreflightFinding[], ignore: ReadonlySet<string>): PreflightFinding[] {
  const ignored = (check: string) => ignore.has('all') || [...ignore].some((i) => i.toLowerCase() === check.toLowerCase());
  return findings.map((f) =>
    f.severity === 'error' && ignored(f.check) ? { ...f, severity: 'warning', message: `${f.message} (ignored)` } : f,
  );
}

/** What each host is, one line each: the facts preflight judged. */
export function formatObserved(observed: readonly Observed[]): string {
  const rows = [['HOST', 'OS', 'ARCH', 'CPU', 'MEMORY', 'KERNEL', 'CGROUP', 'SWAP', 'CLOCK', 'FIREWALL', 'SELINUX', 'CONTAINER']];
  for (const { target, snapshot } of observed) {
    const f = target.facts;
    const firewall = snapshot.firewalld === 'active' ? 'firewalld' : snapshot.ufw === 'active' ? 'ufw' : 'off';
    rows.push([
      target.spec.name,
      f.os.prettyName,
      f.arch,
      String(f.cpus),
      `${f.memoryMB} MB`,
      f.kernel,
      `v${f.cgroupVersion}`,
      snapshot.swapActive ? 'on' : 'off',
      `${snapshot.clockSkewMs >= 0 ? '+' : ''}${(snapshot.clockSkewMs / 1000).toFixed(1)} s`,
      firewall,
      snapshot.selinux === 'absent' ? '-' : snapshot.selinux,
      f.container ?? '-',
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** One report for the cluster: identical messages on many hosts are printed once. */
export function formatFindings(findings: readonly PreflightFinding[], hostCount: number): string {
  const groups = new Map<string, { f: PreflightFinding; hosts: string[] }>();
  for (const f of findings) {
    const key = `${f.severity}\0${f.check}\0${f.message}`;
    const group = groups.get(key) ?? { f, hosts: [] };
    group.hosts.push(f.host);
    groups.set(key, group);
  }
  const lines = [...groups.values()]
    .sort((a, b) => (a.f.severity === b.f.severity ? a.f.check.localeCompare(b.f.check) : a.f.severity === 'error' ? -1 : 1))
    .map(
      ({ f, hosts }) =>
        `[${f.severity === 'error' ? 'ERROR' : 'WARNING'} ${f.check}] ${hosts.length === hostCount && hostCount > 1 ? `all ${hostCount} hosts` : hosts.join(', ')}: ${f.message}`,
    );
  const errors = findings.filter((f) => f.severity === 'error').length;
  const warnings = findings.length - errors;
  return [
    `preflight: ${hostCount} host${hostCount === 1 ? '' : 's'} checked, ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`,
    ...lines,
  ].join('\n');
}
