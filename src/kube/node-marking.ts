/**
 * What kubestrap does to a node's Node object through the API: kubeadm's control-plane marks,
 * and the approval of a kubelet serving certificate that names only the node's own identity.
 */
import type { Inventory } from '../inventory/schema.js';
import { API_PORT, isControlPlane, resolveHosts, type ResolvedHost } from '../inventory/resolve.js';
import { splitEndpoint } from '../pki/catalogue.js';
import { parseVersion } from '../util/version.js';
import { KUBEADM_CHANGES } from '../../templates/versions.js';
import { pollUntil } from '../util/poll.js';
import type { ApiClient } from './api-client.js';
import { approvedServingCsr, pendingServingCsrs, servingCsrProblem } from './serving-csr.js';

export interface Taint {
  readonly key: string;
  readonly value?: string;
  readonly effect: string;
}

/** What a Node must carry: labels, taints and annotations to set, taints to take off. */
export interface NodeMarks {
  readonly labels: Record<string, string>;
  readonly taints: readonly Taint[];
  readonly annotations: Annotations;
  readonly removeTaints: readonly Taint[];
}

/** Annotations to set, and (null) to remove. */
export type Annotations = Record<string, string | null>;

const CRI_SOCKET_ANNOTATION = 'kubeadm.alpha.kubernetes.io/cri-socket';

/** The CRI socket annotation: set until 1.33; from 1.34 the socket is node-local configuration and kubeadm removes the annotation (#131981). */
const criSocketAnnotation = (minor: number, criSocket: string): Annotations => ({
  [CRI_SOCKET_ANNOTATION]: KUBEADM_CHANGES.nodeLocalCriSocket({ minor }) ? null : criSocket,
});

/** Whether a Node's annotations are as `wanted` says (null: absent). */
const annotationsMatch = (wanted: Annotations, live: Readonly<Record<string, string>>) =>
  Object.entries(wanted).every(([k, v]) =>
    v === null ? !(k in live) : live[k] === v || (k === CRI_SOCKET_ANNOTATION && sameSocket(live[k], v)),
  );

/** kubeadm before 1.24 wrote a CRI socket without its unix:// scheme; it names the same socket. */
const sameSocket = (a: string | undefined, b: string) => a !== undefined && a.replace(/^unix:\/\//, '') === b.replace(/^unix:\/\//, '');

/** kubeadm's mark-control-plane for a release: labels, taints, the CRI socket annotation. */
export function markings(minor: number, criSocket: string): { labels: Record<string, string>; taints: Taint[]; annotations: Annotations } {
  return {
    labels: {
      'node-role.kubernetes.io/control-plane': '',
      ...(KUBEADM_CHANGES.controlPlaneLabelAndTaintOnly({ minor }) ? {} : { 'node-role.kubernetes.io/master': '' }),
      ...(KUBEADM_CHANGES.excludeFromLoadBalancersLabel({ minor })
        ? { 'node.kubernetes.io/exclude-from-external-load-balancers': '' }
        : {}),
    },
    taints: [
      ...(KUBEADM_CHANGES.noMasterTaint({ minor }) ? [] : [{ key: 'node-role.kubernetes.io/master', effect: 'NoSchedule' }]),
      ...(KUBEADM_CHANGES.controlPlaneLabelAndTaintOnly({ minor })
        ? [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }]
        : []),
    ],
    annotations: criSocketAnnotation(minor, criSocket),
  };
}

/** What a kubelet serving certificate may name: the node's own names and addresses. */
export interface NodeIdentity {
  readonly names: readonly string[];
  readonly addresses: readonly string[];
  /** Names no node may have a serving certificate for, even its own (the API's and the services'). */
  readonly reserved: readonly string[];
}

/** The names of the API server and the cluster's services, lower-case: the API server certificate's DNS names. */
function reservedNames(inv: Inventory): string[] {
  const c = inv.cluster;
  const endpoint = c.controlPlaneEndpoint ? splitEndpoint(c.controlPlaneEndpoint, API_PORT).host : undefined;
  return [
    'kubernetes',
    'kubernetes.default',
    'kubernetes.default.svc',
    `kubernetes.default.svc.${c.networking.dnsDomain}`,
    ...(endpoint ? [endpoint] : []),
    ...(c.apiLoadBalancer.mode === 'node-local' ? [c.apiLoadBalancer.domain] : []),
    ...c.certificates.certSANs,
  ].map((n) => n.toLowerCase());
}

/**
 * Each inventory node's identity: only what the inventory says (its node and host name, its
 * addresses), never what the node reports about itself, which a compromised node controls.
 */
export function nodeIdentities(inv: Inventory): Map<string, NodeIdentity> {
  const reserved = reservedNames(inv);
  return new Map(
    resolveHosts(inv).map((h) => [
      h.nodeName,
      { names: [...new Set([h.nodeName, h.name])], addresses: [h.address, ...(h.advertiseAddress ? [h.advertiseAddress] : [])], reserved },
    ]),
  );
}

export const approvalMessage = (node: string) => `kubestrap: the request names only ${node}'s own names and addresses`;

const SERVING_CSR_WAIT_MS = 90_000;

/** Waits for the node's kubelet to ask for its serving certificate, checks the request, approves it. */
export async function approveWhenAsked(api: ApiClient, node: string, identity: NodeIdentity | undefined): Promise<void> {
  await pollUntil(
    async () => {
      const all = await api.list('/apis/certificates.k8s.io/v1/certificatesigningrequests');
      if (approvedServingCsr(all, node)) return true;
      const csr = pendingServingCsrs(all).find((c) => c.node === node);
      if (!csr) return undefined;
      const problem = servingCsrProblem(csr, identity);
      if (problem) throw new Error(`kubelet serving certificate request ${csr.name} not approved: ${problem}`);
      await api.approveCsr(csr.object, approvalMessage(node));
      return true;
    },
    {
      timeoutMs: SERVING_CSR_WAIT_MS,
      failure: () =>
        `the kubelet on ${node} did not ask for a serving certificate within ${SERVING_CSR_WAIT_MS / 1000} s (serverTLSBootstrap is on because metrics-server trusts kubelet certificates)`,
    },
  );
}

/** Labels, taints and annotates a control-plane Node as kubeadm's mark-control-plane does. */
/** Marks an inventory node once its kubelet registered it (joins). */
export function markInventoryNode(api: ApiClient, inv: Inventory, nodeName: string): Promise<void> {
  return markNode(
    api,
    nodeName,
    nodeMarks(
      inv,
      resolveHosts(inv).find((h) => h.nodeName === nodeName)!,
    ),
  );
}

const sameTaint = (a: Taint, b: Taint) => a.key === b.key && a.effect === b.effect;

/**
 * A node's marks, like kubeadm's nodeRegistration: the control-plane marks of its release on a
 * control plane (without the NoSchedule taint when it is a worker too: it is meant to run
 * workloads), and the inventory's labels and taints.
 */
export function nodeMarks(inv: Inventory, host: ResolvedHost): NodeMarks {
  const minor = parseVersion(inv.cluster.kubernetesVersion)!.minor;
  // a worker's CRI socket annotation only ever needs taking off (from 1.34, after an upgrade)
  const workerAnnotations = KUBEADM_CHANGES.nodeLocalCriSocket({ minor }) ? criSocketAnnotation(minor, '') : {};
  const kubeadm = isControlPlane(host)
    ? markings(minor, inv.cluster.containerRuntime.socket)
    : { labels: {}, taints: [], annotations: workerAnnotations };
  const schedulable = isControlPlane(host) && host.roles.includes('worker');
  const roleTaints = schedulable ? markings(minor, '').taints : [];
  const own = host.taints.map((t) => ({ key: t.key, ...(t.value !== undefined ? { value: t.value } : {}), effect: t.effect }));
  return {
    labels: { ...kubeadm.labels, ...host.labels },
    taints: [...kubeadm.taints.filter((t) => !schedulable || !roleTaints.some((r) => sameTaint(r, t))), ...own],
    annotations: kubeadm.annotations,
    removeTaints: roleTaints.filter((r) => !own.some((t) => sameTaint(r, t))),
  };
}

export interface NodeView {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { taints?: Taint[] };
}

/** Whether a Node carries its marks. */
export function marksMatch(mark: NodeMarks, node: NodeView): boolean {
  const live = node.spec?.taints ?? [];
  return (
    Object.entries(mark.labels).every(([k, v]) => node.metadata?.labels?.[k] === v) &&
    annotationsMatch(mark.annotations, node.metadata?.annotations ?? {}) &&
    mark.taints.every((t) => live.some((l) => sameTaint(l, t) && (l.value ?? '') === (t.value ?? ''))) &&
    !mark.removeTaints.some((t) => live.some((l) => sameTaint(l, t)))
  );
}

/** What marking changes, in words, for plans. */
export function describeMarks(mark: NodeMarks): string {
  const taint = (t: Taint) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`;
  return [
    Object.keys(mark.labels).length
      ? `label ${Object.entries(mark.labels)
          .map(([k, v]) => (v ? `${k}=${v}` : k))
          .join(', ')}`
      : '',
    mark.taints.length ? `taint ${mark.taints.map(taint).join(', ')}` : '',
    mark.removeTaints.length ? `untaint ${mark.removeTaints.map(taint).join(', ')}` : '',
  ]
    .filter(Boolean)
    .join('; ');
}

/** Waits for the kubelet to register the node (up to a minute), then sets its labels, annotations and taints. */
export async function markNode(api: ApiClient, name: string, mark: NodeMarks): Promise<void> {
  const ref = { apiVersion: 'v1', kind: 'Node', name };
  const node: NodeView = await pollUntil(() => api.get(ref), {
    timeoutMs: 60_000,
    intervalMs: 1000,
    failure: () => `the kubelet on ${name} did not register its Node within a minute`,
  });
  const kept = (node.spec?.taints ?? []).filter(
    (e) => !mark.taints.some((t) => sameTaint(t, e)) && !mark.removeTaints.some((t) => sameTaint(t, e)),
  );
  // Node taints are replaced as a whole list by a patch: send the others with ours
  await api.patch(ref, { metadata: { labels: mark.labels, annotations: mark.annotations }, spec: { taints: [...kept, ...mark.taints] } });
}
