/** What Kubernetes leaves on a lab node, and what a reset node may still hold. */
import type { LabHost } from '../lab/lab.js';
import type { ClusterLab } from './cluster-lab.js';

/** Everything of Kubernetes a node could still hold, listed from its own shell. */
export function traces(cluster: ClusterLab, node: LabHost): Record<string, string> {
  const sh = (cmd: string) => cluster.lab.inside(node, `${cmd} 2>/dev/null; true`).trim();
  return {
    '/etc/kubernetes': sh('find /etc/kubernetes -mindepth 1 | sort'),
    '/var/lib/kubelet': sh('ls -A /var/lib/kubelet'),
    '/var/lib/etcd': sh('ls -A /var/lib/etcd'),
    '/etc/cni/net.d': sh('ls -A /etc/cni/net.d'),
    '/var/lib/cni': sh('ls -d /var/lib/cni'),
    mounts: sh("grep ' /var/lib/kubelet' /proc/mounts"),
    containers: sh('ctr -n k8s.io containers ls -q'),
    netns: sh('ip netns list'),
    interfaces: sh("ip -o link show | awk -F': ' '{print $2}' | grep -E '^(cni0|flannel|kube-ipvs0|cali|tunl0|veth)'"),
    rules: sh("iptables-save | grep -E 'KUBE-|CNI-|FLANNEL'"),
    kubelet: sh('systemctl is-active kubelet; systemctl is-enabled kubelet'),
  };
}

/**
 * What a reset host still has: nothing of Kubernetes. A host that ran static pods (a control
 * plane; a worker with the node-local API balancer) keeps the empty manifests directory, as kubeadm's does.
 */
export const clean = (cluster: ClusterLab, node: LabHost, staticPods = cluster.controlPlanes.includes(node)): Record<string, string> => ({
  '/etc/kubernetes': staticPods ? '/etc/kubernetes/manifests' : '',
  '/var/lib/kubelet': '',
  '/var/lib/etcd': '',
  '/etc/cni/net.d': '',
  '/var/lib/cni': '',
  mounts: '',
  containers: '',
  netns: '',
  interfaces: '',
  rules: '',
  kubelet: 'inactive\ndisabled',
});
