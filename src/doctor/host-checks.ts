/**
 * The doctor's host checks, read in one round trip per host: swap, the kernel settings and
 * modules kubestrap set, containerd and the kubelet running, the disks under etcd, containerd
 * and the kubelet, the clock against this workstation's, the cgroup version the release needs,
 * and whether the API server serves the certificate on its disk. The questions are built from
 * the inventory; the findings are a pure function of the answers.
 */
import type { HostFacts } from '../facts/probe.js';
import { missingModules, modulePresenceScript } from '../facts/kernel-modules.js';
import { parseServiceStatus, serviceOf } from '../facts/services.js';
import { API_PORT, isControlPlane, type ResolvedHost } from '../inventory/resolve.js';
import type { Inventory } from '../inventory/schema.js';
import { redactShapes } from '../log/redact.js';
import { cgroupProblem } from '../preflight/checks.js';
import { quote } from '../transport/quote.js';
import { kernelAtLeast } from '../util/kernel.js';
import { requiredModules } from '../../templates/kernel-modules.js';
import { PKI_DIR } from '../../templates/paths.js';
import { sysctlSettings } from '../../templates/sysctl.js';
import type { Finding, KubestrapCommand } from './finding.js';

/** Services a node cannot work without. */
const SERVICES = ['containerd', 'kubelet'] as const;
/** Directories whose filesystem filling up stops the node: etcd refuses writes, the kubelet evicts pods. */
const DATA_DIRS = ['/var/lib/etcd', '/var/lib/containerd', '/var/lib/kubelet'] as const;
/** Above this a disk is an error: the kubelet's default hard eviction starts at 10% (nodefs) and 15% (imagefs) free. */
const DISK_ERROR_PERCENT = 90;
const DISK_WARNING_PERCENT = 80;
/** etcd's leases and every TLS and token check tolerate less skew than this. */
const CLOCK_SKEW_MS = 2000;
/** Settings without which pod and service traffic does not flow. */
const NETWORKING_SYSCTLS = new Set(['net.ipv4.ip_forward', 'net.bridge.bridge-nf-call-iptables', 'net.bridge.bridge-nf-call-ip6tables']);

const procPath = (key: string) => `/proc/sys/${key.replace(/\./g, '/')}`;
const normalize = (v: string) => v.trim().split(/\s+/).join(' ');

/** The names the host's answers are tagged with. */
export type HostQuestion =
  | 'now'
  | 'swaps'
  | 'sysctl'
  | 'modules'
  | `service-${(typeof SERVICES)[number]}`
  | `log-${(typeof SERVICES)[number]}`
  | 'disk'
  | 'cert-disk'
  | 'cert-served';

export interface HostContext {
  readonly inventory: Inventory;
  readonly spec: ResolvedHost;
  readonly facts: HostFacts;
}

function modulesOf({ inventory, facts }: HostContext): string[] {
  return requiredModules({
    ipvs: inventory.cluster.kubeProxy.mode === 'ipvs',
    kernelBefore419: !kernelAtLeast(facts.kernel, '4.19'),
    extra: inventory.preparation.kernelModules,
  });
}

/** The scripts, by the name their answers come back under (see src/transport/probe.ts). */
export function hostQuestions(context: HostContext): Partial<Record<HostQuestion, string>> {
  const { inventory, spec, facts } = context;
  const settings = sysctlSettings(inventory.preparation.sysctl);
  const questions: Partial<Record<HostQuestion, string>> = {
    // first, so that it is read as soon after the workstation's clock as the round trip allows
    now: 'date +%s%3N',
    swaps: "awk 'NR > 1 {print $1}' /proc/swaps",
    // only what the host can write is the host's to fix: read-only keys belong to the machine running a container
    sysctl: settings
      .map((s) => `[ -w ${quote(procPath(s.key))} ] && printf '%s %s\\n' ${quote(s.key)} "$(cat ${quote(procPath(s.key))})"`)
      .join('\n'),
    modules: modulePresenceScript(modulesOf(context)),
    disk: DATA_DIRS.map((d) => `[ -d ${d} ] && df -P ${d} | awk 'NR == 2 {print "${d}", $5, $6}'`).join('\n'),
  };
  for (const name of SERVICES) {
    const service = serviceOf(facts.initSystem, name);
    if (!service) continue;
    questions[`service-${name}`] = service.status();
    questions[`log-${name}`] = service.logs(3);
  }
  if (isControlPlane(spec)) {
    const fingerprint = 'openssl x509 -noout -fingerprint -sha256';
    questions['cert-disk'] = `${fingerprint} -in ${PKI_DIR}/apiserver.crt`;
    questions['cert-served'] = `timeout 5 openssl s_client -connect 127.0.0.1:${API_PORT} </dev/null 2>/dev/null | ${fingerprint}`;
  }
  return questions;
}

/** When the host's answers were asked and received, by this workstation's clock (ms). */
export interface AskedAt {
  readonly sent: number;
  readonly received: number;
}

/** The findings of one host's answers. */
export function hostFindings(
  context: HostContext,
  answered: Readonly<Partial<Record<HostQuestion, readonly string[]>>>,
  askedAt: AskedAt,
  kubestrap: KubestrapCommand,
): Finding[] {
  const { inventory, spec, facts } = context;
  // a question this host was not asked (a worker's served certificate) has no answer
  const answer = (q: HostQuestion): readonly string[] => answered[q] ?? [];
  const host = spec.name;
  const findings: Finding[] = [];
  const add = (severity: Finding['severity'], problem: string, why: string, fix: string) =>
    findings.push({ severity, group: 'hosts', subject: host, problem, why, fix });

  if (inventory.preparation.swapOff && answer('swaps').length)
    add(
      'error',
      `swap is on (${answer('swaps').join(', ')})`,
      'the kubelet refuses to start with swap on (failSwapOn): the node goes NotReady at its next restart or reboot',
      kubestrap(`apply --only swap --hosts ${host}`),
    );

  const wanted = new Map(sysctlSettings(inventory.preparation.sysctl).map((s) => [s.key, s.value]));
  for (const line of answer('sysctl')) {
    const [key, ...rest] = line.split(' ');
    const want = wanted.get(key ?? '');
    if (!key || want === undefined || normalize(rest.join(' ')) === normalize(want)) continue;
    const networking = NETWORKING_SYSCTLS.has(key);
    add(
      networking ? 'error' : 'warning',
      `kernel setting ${key} is ${normalize(rest.join(' '))}, not ${want}`,
      networking
        ? 'pod and service traffic through this node is dropped or bypasses kube-proxy'
        : 'kubestrap set it for the limits busy nodes reach; it was changed since (by hand, or another sysctl.d file at boot)',
      kubestrap(`apply --only sysctl --hosts ${host}`),
    );
  }

  const missing = missingModules(answer('modules'));
  if (missing.length)
    add(
      'error',
      `kernel module${missing.length === 1 ? '' : 's'} not loaded: ${missing.join(', ')}`,
      'without br_netfilter bridged pod traffic skips iptables (Services break); without overlay containerd cannot unpack images; without ip_vs kube-proxy in IPVS mode falls back',
      facts.container
        ? `load ${missing.join(' ')} on the machine running the container ${host} (modprobe)`
        : kubestrap(`apply --only kernel-modules --hosts ${host}`),
    );

  for (const name of SERVICES) {
    const status = answer(`service-${name}`);
    if (!serviceOf(facts.initSystem, name) || parseServiceStatus(status.join('\n')).active) continue;
    // a service's log is the host's data: what looks like a secret is redacted before it is reported
    const log = answer(`log-${name}`)
      .map((l) => redactShapes(l).slice(0, 200))
      .join(' | ');
    add(
      'error',
      `${name} is not running${log ? `; its last log lines: ${log}` : ''}`,
      name === 'kubelet'
        ? 'the node goes NotReady: its pods are evicted after 5 minutes and nothing new is scheduled on it'
        : 'the kubelet cannot start or see any container: the node goes NotReady and its pods stop',
      `on ${host}: ${serviceOf(facts.initSystem, name)!.enableNow()}`,
    );
  }

  for (const line of answer('disk')) {
    const [dir, percent, mount] = line.split(' ');
    const used = Number((percent ?? '').replace('%', ''));
    if (!dir || !Number.isFinite(used) || used < DISK_WARNING_PERCENT) continue;
    add(
      used >= DISK_ERROR_PERCENT ? 'error' : 'warning',
      `the filesystem under ${dir} (${mount}) is ${used}% full`,
      dir === '/var/lib/etcd'
        ? 'etcd raises its NOSPACE alarm when it cannot grow: the cluster then refuses every write'
        : 'the kubelet evicts pods and removes images when its disk passes its eviction thresholds',
      dir === '/var/lib/etcd'
        ? `free space on ${host}'s ${mount}; keep a snapshot first (${kubestrap('etcd backup --out snapshot.db')})`
        : `on ${host}: crictl rmi --prune (removes the images no container uses), then free space on ${mount}`,
    );
  }

  const remote = Number(answer('now')[0]);
  if (Number.isFinite(remote) && remote > 0) {
    // the host's clock agrees when it read a time between asking and the answer
    const skew = remote < askedAt.sent ? remote - askedAt.sent : remote > askedAt.received ? remote - askedAt.received : 0;
    if (Math.abs(skew) > CLOCK_SKEW_MS)
      add(
        'error',
        `its clock is ${(Math.abs(skew) / 1000).toFixed(1)} s ${skew > 0 ? 'ahead of' : 'behind'} this workstation's`,
        'etcd and leader election depend on agreeing clocks; certificates and tokens appear not yet valid or expired',
        facts.container
          ? `correct the clock of the machine running the container ${host}`
          : kubestrap(`apply --only time-sync --hosts ${host}`),
      );
  }

  const cgroup = cgroupProblem(inventory, facts);
  if (cgroup)
    add(
      cgroup.severity,
      `cgroup v1: ${cgroup.message}`,
      'the kubelet of this release runs on cgroup v2 (or refuses to start)',
      `boot ${host} with systemd.unified_cgroup_hierarchy=1`,
    );

  const [onDisk, served] = [answer('cert-disk')[0], answer('cert-served')[0]];
  if (onDisk && served && onDisk !== served)
    add(
      'error',
      `the API server serves a certificate other than ${PKI_DIR}/apiserver.crt (it was not restarted after the file changed)`,
      'clients see the old certificate until the API server restarts: it expires as if never renewed',
      kubestrap(`certs renew apiserver --hosts ${host}`),
    );
  return findings;
}
