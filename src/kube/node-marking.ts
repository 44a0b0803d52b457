/**
 * What kubestrap does to a node's Node object through the API: kubeadm's control-plane marks,
 * and the approval of a kubelet serving certificate that names only the node's own identity.
 */
import type { Inventory } from '../inventory/schema.js';
import { resolveHosts } from '../inventory/resolve.js';
import { parseVersion } from '../util/version.js';
import { KUBEADM_CHANGES } from '../../templates/versions.js';
import { pollUntil } from '../util/poll.js';
import type { PhaseContext } from '../workflow/phase.js';
import type { ApiClient } from './api-client.js';
import { approvedServingCsr, pendingServingCsrs, servingCsrProblem } from './serving-csr.js';

export interface Taint {
  readonly key: string;
  readonly effect: string;
}

/** Annotations to set, and (null) to remove. */
export type Annotations = Record<string, string | null>;

export const CRI_SOCKET_ANNOTATION = 'kubeadm.alpha.kubernetes.io/cri-socket';

/** The CRI socket annotation: set until 1.33; from 1.34 the socket is node-local configuration and kubeadm removes the annotation (#131981). */
export const criSocketAnnotation = (minor: number, criSocket: string): Annotations => ({ [CRI_SOCKET_ANNOTATION]: KUBEADM_CHANGES.nodeLocalCriSocket({ minor }) ? null : criSocket });

/** Whether a Node's annotations are as `wanted` says (null: absent). */
export const annotationsMatch = (wanted: Annotations, live: Readonly<Record<string, string>>) => Object.entries(wanted).every(([k, v]) => (v === null ? !(k in live) : live[k] === v));

/** kubeadm's mark-control-plane for a release: labels, taints, the CRI socket annotation. */
export function markings(minor: number, criSocket: string): { labels: Record<string, string>; taints: Taint[]; annotations: Annotations } {
  return {
    labels: {
      'node-role.kubernetes.io/control-plane': '',
      ...(minor <= 23 ? { 'node-role.kubernetes.io/master': '' } : {}),
      'node.kubernetes.io/exclude-from-external-load-balancers': '',
    },
    taints: [...(minor <= 24 ? [{ key: 'node-role.kubernetes.io/master', effect: 'NoSchedule' }] : []), ...(minor >= 24 ? [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] : [])],
    annotations: criSocketAnnotation(minor, criSocket),
  };
}

/** What a kubelet serving certificate may name: the node's own names and addresses. */
export interface NodeIdentity {
  readonly names: readonly string[];
  readonly addresses: readonly string[];
}

/** Each inventory node's identity; the hostname comes from the facts of the hosts that connected. */
export function nodeIdentities(ctx: PhaseContext): Map<string, NodeIdentity> {
  return new Map(
    resolveHosts(ctx.inventory).map((h) => {
      const facts = ctx.hosts.find((t) => t.spec.name === h.name)?.facts;
      return [h.nodeName, { names: [h.nodeName, ...(facts ? [facts.hostname] : [])], addresses: [h.address, ...(h.advertiseAddress ? [h.advertiseAddress] : [])] }];
    }),
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
    { timeoutMs: SERVING_CSR_WAIT_MS, failure: () => `the kubelet on ${node} did not ask for a serving certificate within ${SERVING_CSR_WAIT_MS / 1000} s (serverTLSBootstrap is on because metrics-server trusts kubelet certificates)` },
  );
}

/** Labels, taints and annotates a control-plane Node as kubeadm's mark-control-plane does. */
export function markControlPlane(api: ApiClient, inv: Inventory, nodeName: string): Promise<void> {
  return markNode(api, nodeName, markings(parseVersion(inv.cluster.kubernetesVersion)!.minor, inv.cluster.containerRuntime.socket));
}

/** Waits for the kubelet to register the node (up to a minute), then adds labels, annotations and taints. */
export async function markNode(api: ApiClient, name: string, mark: { labels: Record<string, string>; taints: Taint[]; annotations: Annotations }): Promise<void> {
  const ref = { apiVersion: 'v1', kind: 'Node', name };
  const node: { spec?: { taints?: Taint[] } } = await pollUntil(() => api.get(ref), { timeoutMs: 60_000, intervalMs: 1000, failure: () => `the kubelet on ${name} did not register its Node within a minute` });
  const existing = node.spec?.taints ?? [];
  const taints = [...existing, ...mark.taints.filter((t) => !existing.some((e) => e.key === t.key && e.effect === t.effect))];
  // Node taints are replaced as a whole list by a patch: send the existing ones with ours
  await api.patch(ref, { metadata: { labels: mark.labels, annotations: mark.annotations }, spec: { taints } });
}
