/**
 * What an upgrade hop migrates besides versions, as kubeadm's `upgrade apply`/`upgrade node` do
 * for the same hop, and the etcd rule of the hop. Pure: `upgrade plan` prints the list, the roll
 * carries it out through the rendered files (kubeadm-flags.env, instance-config.yaml, the
 * certificates) and the cluster objects (kubeadm-config, the RBAC binding, the Node annotation).
 */
import type { KubeVersion } from '../util/version.js';
import { compareTriples, etcdImageTag, KUBEADM_CHANGES, kubeadmApiVersion, versionTriple } from '../../templates/versions.js';

type Version = Pick<KubeVersion, 'minor' | 'patch'>;

/** Each migration a hop performs, in the order it happens, with the kubeadm change behind it. */
export function hopMigrations(from: Version, to: Version): string[] {
  const crossed = (change: (v: Version) => boolean) => !change(from) && change(to);
  const out: string[] = [];
  if (crossed(KUBEADM_CHANGES.apiServerKubeletClientBinding)) {
    out.push(
      'ClusterRoleBinding kubeadm:apiserver-kubelet-client created first, then apiserver-kubelet-client reissued without O=kubeadm:cluster-admins (#138957)',
    );
  }
  if (crossed(KUBEADM_CHANGES.controlPlaneKubeletLocal))
    out.push("control planes' kubelet.conf pointed at their own API server (ControlPlaneKubeletLocalMode, #129956)");
  if (crossed(KUBEADM_CHANGES.nodeLocalCriSocket)) {
    out.push(
      '/var/lib/kubelet/instance-config.yaml written and containerRuntimeEndpoint merged into config.yaml (NodeLocalCRISocket, #131981)',
    );
    out.push('--container-runtime-endpoint removed from kubeadm-flags.env before the new kubelet starts');
    out.push('Node annotation kubeadm.alpha.kubernetes.io/cri-socket removed from every Node');
  }
  if (crossed(KUBEADM_CHANGES.noPodInfraContainerImage))
    out.push('--pod-infra-container-image removed from kubeadm-flags.env before the 1.35 kubelet starts (#133778): it refuses the flag');
  if (crossed(KUBEADM_CHANGES.noFlexVolumeMount)) out.push("the controller-manager's flex-volume mount removed (#136423)");
  if (kubeadmApiVersion(from.minor) !== kubeadmApiVersion(to.minor))
    out.push(`kube-system/kubeadm-config rewritten as ${kubeadmApiVersion(to.minor)}`);
  const [etcdFrom, etcdTo] = [etcdImageTag(from), etcdImageTag(to)];
  if (etcdFrom !== etcdTo) out.push(`etcd ${etcdFrom} → ${etcdTo}, one control plane at a time behind its stopped API server`);
  return out;
}

/**
 * The lowest etcd patch each member must run before its cluster moves to the next etcd minor:
 * etcd upgrades one minor at a time, and only from a patch that understands the next minor's
 * membership and storage changes. 3.6: etcd.io/docs/latest/upgrades/upgrade_3_6 ("3.5.26 or
 * later; 3.5.24 through 3.5.26 fix several potential upgrade blockers"; the v3.6 page of the
 * same guide still says 3.5.20, and etcd has raised it since). 3.7: the upgrade_3_7 draft
 * (3.6.11, which kubeadm's 1.34-1.36 map moved to in #138746).
 */
const ETCD_MINOR_PREREQUISITE: Readonly<Record<string, string>> = { '3.6': '3.5.26', '3.7': '3.6.11' };

/** Why etcd cannot go from `current` to `target` (image tags), or undefined when it can. */
export function etcdHopProblem(node: string, current: string, target: string): string | undefined {
  const [from, to] = [versionTriple(current), versionTriple(target)];
  if (!from || !to || (from[0] === to[0] && from[1] === to[1])) return undefined;
  if (compareTriples(to, from) < 0)
    return `etcd on ${node} runs ${current}; ${target} would be an etcd downgrade, which etcd does not support`;
  if (to[0] !== from[0] || to[1] !== from[1] + 1)
    return `etcd on ${node} runs ${current}; ${target} skips an etcd minor: etcd upgrades one minor at a time`;
  const needed = ETCD_MINOR_PREREQUISITE[`${to[0]}.${to[1]}`];
  if (needed && compareTriples(from, versionTriple(needed)!) < 0) {
    return `etcd on ${node} runs ${current}; etcd ${to[0]}.${to[1]} can only be reached from ${needed} or newer: first set cluster.etcd.imageTag to ${needed}-0 (or newer ${from[0]}.${from[1]}.x) at the current Kubernetes version and run upgrade apply, then upgrade`;
  }
  return undefined;
}
