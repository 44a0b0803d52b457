/**
 * What Kubernetes leaves on a node, found and removed in one round trip each: the paths
 * kubestrap (or kubeadm) wrote, the kubelet's state and mounts, etcd's data, CNI configuration
 * and state, the containers of containerd's k8s.io namespace and their network namespaces, the
 * CNI and kube-proxy interfaces, and the KUBE-/CNI-/FLANNEL iptables rules and IPVS services.
 * Host preparation (sysctl, modules, packages, containerd's configuration) stays: a reset node
 * is ready to be joined again.
 */
import { JOIN_PENDING, KUBELET_DIR, KUBERNETES_DIR, MANIFESTS_DIR, PKI_DIR } from '../../templates/paths.js';

/**
 * Paths removed by reset. Of the kubelet's and etcd's directories only the contents go: they are
 * often mount points of their own disks (as kubeadm, which empties them).
 */
const RESET_PATHS = [
  `${MANIFESTS_DIR}/*`,
  PKI_DIR,
  `${KUBERNETES_DIR}/*.conf`,
  `${KUBERNETES_DIR}/*.parked-by-kubestrap`,
  JOIN_PENDING,
  `${KUBELET_DIR}/*`,
  '/var/lib/etcd/*',
  '/etc/cni/net.d/*',
  '/var/lib/cni',
  '/etc/kubestrap/haproxy.cfg',
] as const;

/**
 * The paths of this cluster's nodes: with an external etcd, /var/lib/etcd is not Kubernetes' to
 * empty (Kubespray's host etcd keeps its data there on the control planes; kubeadm's reset also
 * leaves it to an external etcd).
 */
const resetPaths = (externalEtcd: boolean) => (externalEtcd ? RESET_PATHS.filter((p) => !p.startsWith('/var/lib/etcd')) : RESET_PATHS);

export const RESET_INTERFACES = ['cni0', 'flannel.1', 'kube-ipvs0', 'tunl0', 'vxlan.calico', 'nodelocaldns'] as const;

/** Rules of kube-proxy and the CNI plugins, by the chain names they use. */
const RULE_PATTERN = 'KUBE-|CNI-|FLANNEL|cali-';

export interface Leftovers {
  readonly paths: string[];
  readonly interfaces: string[];
  readonly containers: number;
  readonly rules: number;
  readonly ipvsServices: number;
  readonly mounts: number;
}

/** Prints one line per leftover: `path P`, `link L`, `containers N`, `rules N`, `ipvs N`, `mounts N`. */
export const findLeftovers = (externalEtcd: boolean) =>
  [
    `for p in ${resetPaths(externalEtcd).join(' ')}; do [ -e "$p" ] && echo "path $p"; done`,
    `for l in ${RESET_INTERFACES.join(' ')}; do ip link show "$l" >/dev/null 2>&1 && echo "link $l"; done`,
    `ip -o link show 2>/dev/null | sed -n 's/^[0-9]*: \\(cali[^:@]*\\).*/link \\1/p'`,
    `echo "containers $(ctr -n k8s.io containers ls -q 2>/dev/null | wc -l)"`,
    `echo "rules $( (iptables-save 2>/dev/null; ip6tables-save 2>/dev/null) | grep -cE '${RULE_PATTERN}')"`,
    `echo "ipvs $(ipvsadm -Ln 2>/dev/null | grep -c '^TCP\\|^UDP\\|^SCTP')"`,
    `echo "mounts $(grep -c ' /var/lib/kubelet' /proc/mounts)"`,
    'true',
  ].join('\n');

export function parseLeftovers(output: string): Leftovers {
  const lines = output.split('\n');
  const values = (kind: string) => lines.filter((l) => l.startsWith(`${kind} `)).map((l) => l.slice(kind.length + 1));
  const count = (kind: string) => Number(values(kind)[0] ?? 0) || 0;
  return {
    paths: values('path'),
    interfaces: values('link'),
    containers: count('containers'),
    rules: count('rules'),
    ipvsServices: count('ipvs'),
    mounts: count('mounts'),
  };
}

export function describeLeftovers(l: Leftovers): Array<{ target: string; summary: string }> {
  return [
    ...(l.containers ? [{ target: 'containers', summary: `stop and remove ${l.containers} in containerd's k8s.io namespace` }] : []),
    ...(l.mounts ? [{ target: '/var/lib/kubelet mounts', summary: `unmount ${l.mounts}` }] : []),
    ...l.paths.map((p) => ({ target: p, summary: 'remove' })),
    ...l.interfaces.map((i) => ({ target: `interface ${i}`, summary: 'delete' })),
    ...(l.rules ? [{ target: 'iptables', summary: `remove ${l.rules} rules and chains of kube-proxy and the CNI` }] : []),
    ...(l.ipvsServices ? [{ target: 'IPVS', summary: `clear ${l.ipvsServices} virtual services` }] : []),
  ];
}

/** Removes everything findLeftovers reports; the kubelet must be stopped first. */
export const removeLeftovers = (externalEtcd: boolean) =>
  [
    'set -u',
    'if command -v ctr >/dev/null; then',
    '  for t in $(ctr -n k8s.io tasks ls -q 2>/dev/null); do ctr -n k8s.io tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done',
    '  for i in $(seq 1 20); do [ -z "$(ctr -n k8s.io tasks ls -q 2>/dev/null | head -n1)" ] && break; for t in $(ctr -n k8s.io tasks ls -q); do ctr -n k8s.io tasks rm -f "$t" >/dev/null 2>&1; done; sleep 0.5; done',
    '  for c in $(ctr -n k8s.io containers ls -q 2>/dev/null); do ctr -n k8s.io containers rm "$c" >/dev/null 2>&1; done',
    'fi',
    // pods' network namespaces, whose CNI DEL never came
    'for n in $(ip netns list 2>/dev/null | awk \'/^cni-/ {print $1}\'); do ip netns delete "$n"; done',
    "grep ' /var/lib/kubelet' /proc/mounts | awk '{print $2}' | sort -r | while read -r m; do umount -l \"$m\"; done",
    `rm -rf ${resetPaths(externalEtcd).join(' ')}`,
    `for l in ${RESET_INTERFACES.join(' ')} $(ip -o link show 2>/dev/null | sed -n 's/^[0-9]*: \\(cali[^:@]*\\).*/\\1/p'); do ip link delete "$l" 2>/dev/null; done`,
    `for tool in iptables ip6tables; do command -v $tool-save >/dev/null && $tool-save | grep -vE '${RULE_PATTERN}' | $tool-restore; done`,
    'command -v ipvsadm >/dev/null && ipvsadm -C',
    'true',
  ].join('\n');
