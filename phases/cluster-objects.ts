/**
 * cluster-objects: what `kubeadm init` puts into the API once it answers: bootstrap RBAC,
 * cluster-info, kubeadm-config and kubelet-config, the control-plane node's labels and taint,
 * a join token, the bundled add-ons (kube-proxy, CoreDNS, the CNI, metrics-server), and the
 * approval of kubelet serving certificates that name only their own node. Talks to the API through the
 * control plane's SSH connection with admin.conf; every object is compared with the live one, so
 * a second apply changes nothing.
 */
import { ApiClient, refOf, type ObjectRef } from '../src/kube/api-client.js';
import { objectDifferences } from '../src/kube/object-diff.js';
import { inventoryCalicoManifest } from '../src/kube/addon-set.js';
import { desiredObjects } from '../src/kube/desired-objects.js';
import { approvedServingCsr, pendingServingCsrs, servingCsrProblem } from '../src/kube/serving-csr.js';
import { resolveHosts } from '../src/inventory/resolve.js';
import { tokenSecret } from '../src/kube/bootstrap-objects.js';
import { DEFAULT_TOKEN_GROUPS, DEFAULT_TOKEN_USAGES, generateToken, type BootstrapToken } from '../src/pki/bootstrap-token.js';
import { listTokens } from '../src/kube/tokens.js';
import { parseVersion } from '../src/util/version.js';
import type { Change, Phase } from '../src/kit/phase.js';
import { KUBEADM_CHANGES } from '../templates/versions.js';
import { onLeader } from '../src/kit/hosts.js';
import {
  approvalMessage,
  approveWhenAsked,
  describeMarks,
  markNode,
  marksMatch,
  nodeIdentities,
  nodeMarks,
  type NodeMarks,
  type NodeView,
} from '../src/kube/node-marking.js';
import { withApi } from '../src/kube/admin-api.js';
import type { KubeObject } from '../templates/objects.js';
import { KUBELET_SERVING_CURRENT } from '../templates/paths.js';

type Payload =
  | { kind: 'object'; object: KubeObject }
  | { kind: 'approve'; csr: Record<string, unknown>; node: string }
  | { kind: 'await-serving-csr'; node: string }
  | { kind: 'token' }
  | { kind: 'mark'; node: string; marks: NodeMarks }
  | { kind: 'pending' };

/** The join token kubestrap keeps for the cluster (kubeadm makes a new one at every init). */
export const JOIN_TOKEN_DESCRIPTION = 'kubestrap: join token for the nodes of the inventory';
const TOKEN_TTL_SECONDS = 24 * 3600;
/** A token closer than this to its expiry is replaced, so printed join commands stay usable. */
const TOKEN_MIN_REMAINING_MS = 2 * 3600 * 1000;

const describe = (r: ObjectRef) => `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;

/** The join token kubestrap manages, if one exists with enough time left. */
export async function currentJoinToken(api: ApiClient, now: Date): Promise<BootstrapToken | undefined> {
  const { tokens } = await listTokens(api);
  const usable = tokens.find(
    (t) => t.description === JOIN_TOKEN_DESCRIPTION && t.expires && t.expires.getTime() - now.getTime() > TOKEN_MIN_REMAINING_MS,
  );
  return usable?.token;
}

export const clusterObjectsPhase: Phase<Payload> = {
  name: 'cluster-objects',
  title: 'bootstrap objects, node labels and taints, join token and add-ons',
  description:
    'Creates or updates the RBAC, cluster-info, kubeadm-config and kubelet-config objects, labels and taints every node (control-plane marks, the inventory labels and taints), keeps a join token, installs kube-proxy, CoreDNS, the CNI and metrics-server, and approves kubelet serving certificates.',
  selectHosts: onLeader,
  async plan(ctx, target) {
    const c = ctx.inventory.cluster;
    const minor = parseVersion(c.kubernetesVersion)!.minor;
    const warnings: string[] = [];
    const planned = await withApi(target, async (api, ca) => {
      const changes: Change<Payload>[] = [];
      const calico = ctx.bundle ? ctx.bundle.calicoManifest : await inventoryCalicoManifest(ctx.inventory);
      for (const object of desiredObjects(ctx.inventory, target.spec, target.facts.hostname, ca, calico)) {
        const live = await api.get(refOf(object));
        const differences = live ? objectDifferences(object, live) : [];
        if (!live) changes.push({ target: describe(refOf(object)), summary: 'create', payload: { kind: 'object', object } });
        else if (differences.length)
          changes.push({
            target: describe(refOf(object)),
            summary: `update ${differences.slice(0, 3).join(', ')}${differences.length > 3 ? ` and ${differences.length - 3} more` : ''}`,
            payload: { kind: 'object', object },
          });
      }
      const identities = nodeIdentities(ctx.inventory);
      const allCsrs = await api.list('/apis/certificates.k8s.io/v1/certificatesigningrequests');
      for (const csr of pendingServingCsrs(allCsrs)) {
        const problem = servingCsrProblem(csr, identities.get(csr.node));
        if (problem) warnings.push(`kubelet serving certificate request ${csr.name} left pending: ${problem}`);
        else
          changes.push({
            target: `CertificateSigningRequest ${csr.name}`,
            summary: `approve ${csr.node}'s kubelet serving certificate (${[...csr.dnsNames, ...csr.ips].join(', ')})`,
            payload: { kind: 'approve', csr: csr.object, node: csr.node },
          });
      }
      // this node's kubelet asks for its serving certificate once the API answers: approve it in this run
      const servingCert = ctx.inventory.cluster.addons.metricsServer && !ctx.inventory.cluster.addons.metricsServerInsecureTLS;
      const self = target.spec.nodeName;
      const asked = changes.some((c) => c.payload.kind === 'approve' && c.payload.node === self) || approvedServingCsr(allCsrs, self);
      if (servingCert && !asked && !(await target.host.exists(KUBELET_SERVING_CURRENT))) {
        changes.push({
          target: `kubelet serving certificate of ${self}`,
          summary: 'approve the request the kubelet makes (signed by the cluster CA)',
          payload: { kind: 'await-serving-csr', node: self },
        });
      }
      // every inventory node's labels, taints and annotations; a node not registered yet is marked by its join
      const nodes = new Map(
        ((await api.list('/api/v1/nodes')) as unknown as Array<NodeView & { metadata: { name: string } }>).map((n) => [n.metadata.name, n]),
      );
      for (const host of resolveHosts(ctx.inventory)) {
        const live = nodes.get(host.nodeName);
        const marks = nodeMarks(ctx.inventory, host);
        if (live ? !marksMatch(marks, live) : host.nodeName === self)
          changes.push({
            target: `Node ${host.nodeName}`,
            summary: describeMarks(marks),
            payload: { kind: 'mark', node: host.nodeName, marks },
          });
      }
      if (c.kubeProxy.mode === 'ipvs' && c.addons.kubeProxy && KUBEADM_CHANGES.ipvsDeprecated({ minor })) {
        warnings.push(
          `kube-proxy's ipvs mode is deprecated from Kubernetes 1.35 (#134539) and will be removed; plan a move to cluster.kubeProxy.mode: nftables (kernel 5.13+) or iptables`,
        );
      }
      if (!(await currentJoinToken(api, new Date())))
        changes.push({ target: 'join token', summary: 'create (valid 24h)', payload: { kind: 'token' } });
      return changes;
    });
    return {
      changes: planned ?? [
        {
          target: 'cluster objects',
          summary: 'create bootstrap objects, join token and add-ons once the API server answers',
          payload: { kind: 'pending' },
        },
      ],
      warnings,
    };
  },
  async apply(ctx, target, changes) {
    const done = await withApi(target, async (api) => {
      for (const { payload } of changes) {
        if (payload.kind === 'object') await api.apply(payload.object);
        if (payload.kind === 'approve') await api.approveCsr(payload.csr, approvalMessage(payload.node));
        if (payload.kind === 'await-serving-csr')
          await approveWhenAsked(api, payload.node, nodeIdentities(ctx.inventory).get(payload.node));
        if (payload.kind === 'token') {
          await api.apply(
            tokenSecret(generateToken(), {
              description: JOIN_TOKEN_DESCRIPTION,
              ttlSeconds: TOKEN_TTL_SECONDS,
              usages: DEFAULT_TOKEN_USAGES,
              groups: DEFAULT_TOKEN_GROUPS,
              now: new Date(),
            }),
          );
        }
        if (payload.kind === 'mark') await markNode(api, payload.node, payload.marks);
        if (payload.kind === 'pending')
          throw new Error('the API server does not answer with admin.conf yet; re-run apply once the control plane is up');
      }
      return true;
    });
    if (!done) throw new Error('/etc/kubernetes/admin.conf or the cluster CA is missing on the control plane');
  },
};
