/**
 * Why a control plane did not come up: evidence gathered from the node in one round trip,
 * turned into findings that name a likely cause, the way an experienced operator reads the
 * kubelet journal, containerd's configuration and the pod logs.
 */
import { changedSinceStart, startAndChangeTimes, type Service } from '../facts/services.js';
import { CONTAINERD_CONFIG } from '../../templates/containerd.js';

/** One remote script printing sections the parser below reads; `kubelet`: the kubelet's service, where the init system can say. */
export function evidenceScript(apiPort: number, kubelet: Service | undefined): string {
  return [
    `echo "== kubelet-active"; ${kubelet ? `${kubelet.status()} | sed -n 's/^active //p'` : 'false'} | grep -qx active && echo active || pidof kubelet >/dev/null && echo running`,
    `echo "== kubelet-journal"; ${kubelet ? kubelet.logs(600) : 'true'} 2>/dev/null | grep -E '^[EF][0-9]{4} ' | tail -n 12`,
    `echo "== containerd-config"; grep -hE '^\\s*(sandbox_image|sandbox|SystemdCgroup) *=' /etc/containerd/config.toml 2>/dev/null`,
    `echo "== containerd-times"; ${startAndChangeTimes('containerd', [CONTAINERD_CONFIG])}`,
    `echo "== kubelet-config"; grep -E '^cgroupDriver' /var/lib/kubelet/config.yaml 2>/dev/null`,
    'echo "== swap"; tail -n +2 /proc/swaps 2>/dev/null',
    `echo "== ports"; ss -ltnpH 2>/dev/null | grep -E ':(${apiPort}|2379|2380|10250|10257|10259) ' `,
    `echo "== pod-logs"; for f in /var/log/pods/kube-system_*/*/*.log; do [ -f "$f" ] || continue; echo "-- $f"; tail -n 2 "$f" | cut -c1-300; done`,
    'echo "== clock"; date +%s',
  ].join('\n');
}

export function parseEvidence(output: string): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let current = '';
  for (const line of output.split('\n')) {
    const header = /^== ([a-z-]+)$/.exec(line);
    if (header) {
      current = header[1]!;
      sections.set(current, []);
    } else if (current && line.trim()) sections.get(current)!.push(line);
  }
  return sections;
}

export interface DiagnosisInput {
  readonly evidence: Map<string, string[]>;
  readonly imageRepository: string;
  /** The workstation's clock, seconds since the epoch, when the evidence was taken. */
  readonly workstationTime: number;
}

export interface Finding {
  readonly cause: string;
  readonly evidence: readonly string[];
}

const CONTROL_PLANE_PROCESSES = /kube-apiserver|etcd|kube-controller|kube-scheduler|kubelet/;

export function diagnose(input: DiagnosisInput): Finding[] {
  const e = (name: string) => input.evidence.get(name) ?? [];
  const journal = e('kubelet-journal');
  const findings: Finding[] = [];
  if (!e('kubelet-active').some((l) => /^(active|running)$/.test(l))) {
    findings.push({ cause: 'the kubelet is not running (see its last errors)', evidence: journal.slice(-5) });
  }
  // version 2 names it sandbox_image, version 3 (containerd 2.x) pinned_images.sandbox
  const sandbox = /sandbox(?:_image)?\s*=\s*["']([^"']+)["']/.exec(e('containerd-config').join('\n'))?.[1];
  if (sandbox && !sandbox.startsWith(`${input.imageRepository}/`)) {
    findings.push({
      cause: `containerd's sandbox image ${sandbox} is not from the cluster's image repository ${input.imageRepository}: behind a firewall every pod sandbox fails to pull it`,
      evidence: [`containerd sandbox image = "${sandbox}"`],
    });
  }
  if (changedSinceStart(e('containerd-times').join('\n'))) {
    findings.push({
      cause: `containerd runs an older configuration: ${CONTAINERD_CONFIG} changed after containerd started (a run stopped between writing it and restarting containerd); the next apply restarts it`,
      evidence: e('containerd-times'),
    });
  }
  const pullErrors = journal.filter((l) => /pull|resolve reference|not found/i.test(l) && /pause|sandbox/i.test(l));
  if (pullErrors.length)
    findings.push({ cause: 'pod sandboxes cannot be created: the pause image cannot be pulled', evidence: pullErrors.slice(-3) });
  const systemdCgroup = /SystemdCgroup\s*=\s*(true|false)/.exec(e('containerd-config').join('\n'))?.[1];
  const kubeletDriver = /cgroupDriver:\s*(\S+)/.exec(e('kubelet-config').join('\n'))?.[1];
  const containerdDriver = systemdCgroup === undefined ? undefined : systemdCgroup === 'true' ? 'systemd' : 'cgroupfs';
  if (kubeletDriver && containerdDriver && kubeletDriver !== containerdDriver) {
    findings.push({
      cause: `cgroup driver mismatch: the kubelet uses ${kubeletDriver}, containerd uses ${containerdDriver} (SystemdCgroup = ${systemdCgroup}); set both with cluster.containerRuntime.cgroupDriver`,
      evidence: [`kubelet cgroupDriver: ${kubeletDriver}`, `containerd SystemdCgroup = ${systemdCgroup}`],
    });
  }
  const cgroupErrors = journal.filter((l) => /cgroup driver|cgroupDriver|systemd cgroup|expected cgroupsPath|cgroupsPath/i.test(l));
  if (cgroupErrors.length && !findings.some((f) => f.cause.startsWith('cgroup driver mismatch')))
    findings.push({ cause: 'the kubelet reports cgroup errors', evidence: cgroupErrors.slice(-3) });
  if (e('swap').length)
    findings.push({ cause: 'swap is on: the kubelet refuses to run with swap unless configured for it', evidence: e('swap') });
  const foreignListeners = e('ports').filter((l) => !CONTROL_PLANE_PROCESSES.test(l));
  if (foreignListeners.length) findings.push({ cause: 'a control-plane port is taken by another program', evidence: foreignListeners });
  const x509 = [...journal, ...e('pod-logs')].filter((l) =>
    /x509: certificate is valid for|certificate is not valid for any names/.test(l),
  );
  if (x509.length)
    findings.push({ cause: "a certificate's names do not match the address it is reached at (SAN mismatch)", evidence: x509.slice(-3) });
  const expired = [...journal, ...e('pod-logs')].filter((l) => /certificate has expired or is not yet valid/.test(l));
  const nodeTime = Number(e('clock')[0] ?? NaN);
  const skew = Number.isFinite(nodeTime) ? nodeTime - input.workstationTime : 0;
  if (Math.abs(skew) > 60 || expired.length) {
    findings.push({
      cause: `clock skew or certificate validity: the node's clock is ${Math.round(skew)} s from the workstation's`,
      evidence: expired.slice(-3),
    });
  }
  const podErrors = e('pod-logs').filter((l) => /error|fatal|panic|refused/i.test(l));
  if (podErrors.length)
    findings.push({ cause: 'control-plane containers log errors (last lines of their logs)', evidence: podErrors.slice(-6) });
  if (findings.length === 0)
    findings.push({ cause: 'no known cause recognised; the kubelet journal ends with', evidence: journal.slice(-6) });
  return findings;
}

export function formatDiagnosis(findings: readonly Finding[]): string {
  return findings.map((f) => `  - ${f.cause}${f.evidence.map((l) => `\n      ${l}`).join('')}`).join('\n');
}
