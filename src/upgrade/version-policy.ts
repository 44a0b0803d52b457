/**
 * Which upgrades kubestrap performs, decided before any host is touched: Kubernetes supports
 * moving the control plane one minor release at a time, never back, with every kubelet no
 * newer than the API server and at most two (three from 1.28) minors older.
 */
import { parseVersion, supportProblem, type KubeVersion } from '../util/version.js';
import { etcdHopProblem } from './migrations.js';
import { KUBERNETES_CHANGES } from '../../templates/versions.js';

export interface ClusterVersions {
  /** The control plane's version: the oldest of what the cluster reports (a half-done upgrade counts as not done). */
  readonly controlPlane: KubeVersion;
  /** Each Node's kubelet version. */
  readonly kubelets: ReadonlyMap<string, KubeVersion>;
  /** The etcd image tag each control plane's etcd pod runs (nodes whose pod the API does not show are absent). */
  readonly etcd?: ReadonlyMap<string, string>;
}

export type UpgradeKind = 'configuration' | 'patch' | 'minor';

export type UpgradeDecision =
  { readonly ok: true; readonly kind: UpgradeKind } | { readonly ok: false; readonly problems: readonly string[] };

const compare = (a: KubeVersion, b: KubeVersion) => a.major - b.major || a.minor - b.minor || a.patch - b.patch;

/** How many minors a kubelet may lag the API server it talks to, for the API server's release. */
export function kubeletSkew(minor: number): number {
  return KUBERNETES_CHANGES.kubeletSkewOfThree({ minor }) ? 3 : 2;
}

/** `targetEtcd`: the etcd image tag the inventory gives the target release. */
export function decideUpgrade(current: ClusterVersions, target: KubeVersion, targetEtcd?: string): UpgradeDecision {
  const problems: string[] = [];
  const from = current.controlPlane;
  const unsupported = supportProblem(target);
  if (unsupported) problems.push(unsupported);
  if (target.major !== from.major)
    problems.push(`${from.text} → ${target.text} changes the major version: kubestrap upgrades within 1.x only`);
  else if (compare(target, from) < 0)
    problems.push(
      `the cluster runs ${from.text}; ${target.text} would be a downgrade, which Kubernetes does not support (restore an etcd backup instead)`,
    );
  else if (target.minor > from.minor + 1) {
    problems.push(
      `${from.text} → ${target.text} skips v1.${from.minor + 1}: upgrade to the newest v1.${from.minor + 1}.x first, then to ${target.text} (Kubernetes upgrades one minor release at a time)`,
    );
  }
  for (const [node, kubelet] of current.kubelets) {
    if (kubelet.major !== target.major) continue;
    if (kubelet.minor > target.minor)
      problems.push(
        `node ${node}'s kubelet is ${kubelet.text}, newer than ${target.text}: a kubelet must not be newer than the API server`,
      );
    else if (target.minor - kubelet.minor > kubeletSkew(target.minor)) {
      problems.push(
        `node ${node}'s kubelet is ${kubelet.text}: more than ${kubeletSkew(target.minor)} minors behind ${target.text}, which an API server does not serve; upgrade its kubelet first`,
      );
    }
  }
  for (const [node, tag] of current.etcd ?? []) {
    const problem = targetEtcd ? etcdHopProblem(node, tag, targetEtcd) : undefined;
    if (problem) problems.push(problem);
  }
  if (problems.length) return { ok: false, problems };
  return { ok: true, kind: compare(target, from) === 0 ? 'configuration' : target.minor === from.minor ? 'patch' : 'minor' };
}

/** A version as a cluster reports it (v1.20.2, v1.20.2-rc.0, v1.20.2+k3s1), without its suffix. */
export function parseReported(text: string | undefined): KubeVersion | undefined {
  return parseVersion((text ?? '').replace(/[-+].*$/, ''));
}

/** The oldest of several reported versions (those that do not parse are ignored); undefined when none parses. */
export function oldest(texts: readonly (string | undefined)[]): KubeVersion | undefined {
  return texts
    .map(parseReported)
    .filter((v): v is KubeVersion => v !== undefined)
    .sort(compare)[0];
}
