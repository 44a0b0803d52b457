/**
 * Kernel settings for a Kubernetes node: the set of the typical kubeadm runbook. Each entry says
 * why it is there, so an operator reviewing /etc/sysctl.d/kubernetes.conf knows what to keep.
 */
export interface SysctlSetting {
  readonly key: string;
  readonly value: string;
  readonly why: string;
}

export const DEFAULT_SYSCTLS: readonly SysctlSetting[] = [
  { key: 'net.ipv4.ip_forward', value: '1', why: 'pods and services are routed through the node' },
  {
    key: 'net.bridge.bridge-nf-call-iptables',
    value: '1',
    why: 'bridged pod traffic must pass iptables (kube-proxy, network policies); needs br_netfilter',
  },
  { key: 'net.bridge.bridge-nf-call-ip6tables', value: '1', why: 'the same for IPv6' },
  { key: 'vm.overcommit_memory', value: '1', why: 'the kubelet expects it (it sets it itself at start otherwise)' },
  { key: 'vm.panic_on_oom', value: '0', why: 'let the OOM killer act instead of panicking the node' },
  { key: 'fs.inotify.max_user_watches', value: '89100', why: 'kubelet, containerd and many pods watch files' },
  { key: 'fs.inotify.max_user_instances', value: '8192', why: 'each container runtime shim and kubelet use inotify instances' },
  { key: 'fs.file-max', value: '52706963', why: 'many containers, many open files' },
  { key: 'fs.nr_open', value: '52706963', why: 'allow the nofile limits set for container processes' },
  { key: 'net.netfilter.nf_conntrack_max', value: '2310720', why: 'service traffic is NATed and tracked' },
  { key: 'net.ipv4.tcp_keepalive_time', value: '600', why: 'detect dead peers of long-lived connections (watches) sooner' },
  { key: 'net.ipv4.tcp_keepalive_probes', value: '3', why: 'as above' },
  { key: 'net.ipv4.tcp_keepalive_intvl', value: '15', why: 'as above' },
  { key: 'net.ipv4.tcp_max_tw_buckets', value: '36000', why: 'bound TIME_WAIT sockets on busy nodes' },
  { key: 'net.ipv4.tcp_tw_reuse', value: '1', why: 'reuse TIME_WAIT sockets for new outgoing connections' },
  { key: 'net.ipv4.tcp_max_orphans', value: '327680', why: 'busy proxies and ingress controllers' },
  { key: 'net.ipv4.tcp_orphan_retries', value: '3', why: 'free orphaned sockets sooner' },
  { key: 'net.ipv4.tcp_syncookies', value: '1', why: 'survive SYN floods' },
  { key: 'net.ipv4.tcp_max_syn_backlog', value: '16384', why: 'busy API servers and ingress' },
  { key: 'net.core.somaxconn', value: '16384', why: 'accept backlog for busy listeners' },
];

export const SYSCTL_FILE = '/etc/sysctl.d/kubernetes.conf';

/** The effective settings: defaults, then the inventory's additions and overrides. */
export function sysctlSettings(overrides: Readonly<Record<string, string>>): SysctlSetting[] {
  const merged = new Map(DEFAULT_SYSCTLS.map((s) => [s.key, s]));
  for (const [key, value] of Object.entries(overrides)) merged.set(key, { key, value, why: 'set in the inventory (preparation.sysctl)' });
  return [...merged.values()];
}

export function renderSysctlConf(settings: readonly SysctlSetting[]): string {
  const lines = [
    '# Managed by kubestrap: kernel settings for Kubernetes. Changes here are overwritten;',
    '# set preparation.sysctl in the inventory instead.',
  ];
  for (const s of settings) lines.push(`# ${s.why}`, `${s.key} = ${s.value}`);
  return `${lines.join('\n')}\n`;
}
