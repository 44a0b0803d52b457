/**
 * What preflight needs to know about a host, read in one round trip: listening ports and their
 * processes, commands on the PATH, firewall and SELinux state, container runtime sockets, the
 * host's clock, and whether the image and package mirrors answer.
 */
import type { Host } from '../transport/host.js';
import { quote } from '../transport/quote.js';

export const REQUIRED_COMMANDS = ['ip', 'iptables', 'mount', 'nsenter', 'sysctl', 'modprobe'] as const;
export const RECOMMENDED_COMMANDS = ['ethtool', 'socat', 'tc', 'conntrack', 'ebtables'] as const;
export const CRI_SOCKETS = [
  '/run/containerd/containerd.sock',
  '/var/run/dockershim.sock',
  '/var/run/crio/crio.sock',
  '/var/run/cri-dockerd.sock',
] as const;

export interface Listener {
  readonly port: number;
  readonly process: string;
}

export interface HostSnapshot {
  readonly listeners: readonly Listener[];
  readonly commands: ReadonlyMap<string, boolean>;
  readonly firewalld: 'active' | 'inactive' | 'absent';
  readonly ufw: 'active' | 'inactive' | 'absent';
  readonly selinux: 'Enforcing' | 'Permissive' | 'Disabled' | 'absent';
  readonly criSockets: readonly string[];
  readonly swapActive: boolean;
  /** Host clock minus workstation clock, in ms (half the round trip is the error bound). */
  readonly clockSkewMs: number;
  /** HTTP status (or an error word) of each mirror that was probed; absent when not probed. */
  readonly mirrors: ReadonlyMap<string, string>;
  /** Whether kubelet and containerd are already installed (mirrors then matter less). */
  readonly kubeInstalled: boolean;
  /** The installed containerd's version (2.1.9, 1.6.20~ds1), when containerd is installed. */
  readonly containerdVersion?: string;
  /** The name servers of /etc/resolv.conf, which CoreDNS forwards to (kubeadm's Corefile). */
  readonly nameServers: readonly string[];
}

function script(mirrorUrls: readonly string[]): string {
  const lines = [
    'echo "time $(date +%s%N)"',
    // ss prints: State Recv-Q Send-Q Local:Port Peer:Port Process
    `ss -ltnpH 2>/dev/null | awk '{ n = split($4, a, ":"); p = "-"; if (match($0, /\\("[^"]+"/)) p = substr($0, RSTART + 2, RLENGTH - 3); print "listen " a[n] " " p }'`,
    ...[...REQUIRED_COMMANDS, ...RECOMMENDED_COMMANDS].map(
      (c) => `if command -v ${c} >/dev/null 2>&1; then echo "cmd ${c} yes"; else echo "cmd ${c} no"; fi`,
    ),
    'if command -v systemctl >/dev/null 2>&1 && systemctl list-unit-files firewalld.service >/dev/null 2>&1 && systemctl cat firewalld.service >/dev/null 2>&1; then echo "firewalld $(systemctl is-active firewalld 2>/dev/null | grep -qx active && echo active || echo inactive)"; else echo "firewalld absent"; fi',
    'if command -v ufw >/dev/null 2>&1; then ufw status 2>/dev/null | grep -q "Status: active" && echo "ufw active" || echo "ufw inactive"; else echo "ufw absent"; fi',
    'if command -v getenforce >/dev/null 2>&1; then echo "selinux $(getenforce)"; else echo "selinux absent"; fi',
    ...CRI_SOCKETS.map((s) => `[ -S ${s} ] && echo "socket ${s}"`),
    `command -v containerd >/dev/null 2>&1 && echo "containerd $(containerd --version 2>/dev/null | awk '{print $3}')"`,
    `[ "$(awk 'NR > 1' /proc/swaps 2>/dev/null | wc -l)" -gt 0 ] && echo "swap on"`,
    `awk '$1 == "nameserver" {print "nameserver", $2}' /etc/resolv.conf 2>/dev/null`,
    // Mirrors matter only while something must still be downloaded; probed in parallel, each
    // bounded, so an unreachable one costs seconds, not minutes.
    'if command -v kubelet >/dev/null 2>&1 && command -v containerd >/dev/null 2>&1; then echo "kube installed"; else',
    ...mirrorUrls.map(
      (url, i) =>
        `  ( code=$(curl -s -o /dev/null -w '%{http_code}' --connect-timeout 3 --max-time 4 ${quote(url)} 2>/dev/null); echo "mirror ${i} \${code:-unreachable}" ) &`,
    ),
    '  wait',
    'fi',
  ];
  return lines.join('\n');
}

export async function gatherSnapshot(host: Host, mirrorUrls: readonly string[]): Promise<HostSnapshot> {
  const before = Date.now();
  const { stdout } = await host.check(script(mirrorUrls));
  const after = Date.now();
  const lines = stdout.split('\n');
  const field = (prefix: string) => lines.filter((l) => l.startsWith(`${prefix} `)).map((l) => l.slice(prefix.length + 1));
  const hostNs = BigInt(field('time')[0] ?? '0');
  const mirrors = new Map<string, string>();
  for (const entry of field('mirror')) {
    const [index, code] = entry.split(' ');
    const url = mirrorUrls[Number(index)];
    if (url) mirrors.set(url, code === '000' ? 'unreachable' : (code ?? 'unreachable'));
  }
  return {
    listeners: field('listen').map((l) => {
      const [port, process] = l.split(' ');
      return { port: Number(port), process: process ?? '-' };
    }),
    commands: new Map(field('cmd').map((l) => [l.split(' ')[0]!, l.endsWith(' yes')])),
    firewalld: (field('firewalld')[0] ?? 'absent') as HostSnapshot['firewalld'],
    ufw: (field('ufw')[0] ?? 'absent') as HostSnapshot['ufw'],
    selinux: (field('selinux')[0] ?? 'absent') as HostSnapshot['selinux'],
    criSockets: field('socket'),
    swapActive: field('swap').length > 0,
    clockSkewMs: Number(hostNs / 1_000_000n) - (before + after) / 2,
    mirrors,
    kubeInstalled: field('kube').length > 0,
    ...(field('containerd')[0] ? { containerdVersion: field('containerd')[0]!.replace(/^v/, '') } : {}),
    nameServers: field('nameserver'),
  };
}
