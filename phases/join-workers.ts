/**
 * join-workers: every worker of the inventory that is not part of the cluster yet joins it the
 * way `kubeadm join` does: a fresh short-lived bootstrap token from the API, the cluster CA,
 * bootstrap-kubelet.conf (token kubeconfig, kubeadm's names), the kubelet's files, the kubelet
 * started; the kubelet's TLS bootstrap gets it its client certificate; kubestrap waits for the
 * Node to register and approves the kubelet's serving certificate when metrics-server relies on
 * it. A worker whose kubelet.conf exists has joined and is left alone.
 */
import { isControlPlane } from '../src/inventory/resolve.js';
import { refOf } from '../src/kube/api-client.js';
import { tokenSecret } from '../src/kube/bootstrap-objects.js';
import { DEFAULT_TOKEN_GROUPS, DEFAULT_TOKEN_USAGES, generateToken } from '../src/pki/bootstrap-token.js';
import { serverUrl } from '../src/pki/catalogue.js';
import { clusterPki, nodePki } from '../src/pki/from-inventory.js';
import { awaitKubeletBootstrap, KUBELET_CONF, startKubeletBootstrap } from '../src/join/kubelet-bootstrap.js';
import type { HostTarget, Phase, PhaseContext } from '../src/workflow/phase.js';
import { approveWhenAsked, markInventoryNode, nodeIdentities } from '../src/kube/node-marking.js';
import { requireApi } from '../src/kube/admin-api.js';
import { onFirstControlPlane } from './control-plane.js';
import { kubeletFiles } from '../src/kube/node-files.js';
import { pollUntil } from '../src/util/poll.js';

/** Long enough for a slow TLS bootstrap, short enough to be worthless soon after. */
const JOIN_TOKEN_TTL_SECONDS = 3600;
const REGISTER_WAIT_MS = 180_000;

function controlPlane(ctx: PhaseContext): HostTarget {
  const first = onFirstControlPlane(ctx)[0];
  if (!first) throw new Error("the inventory's first control plane is not reachable: workers join through it");
  return first;
}

export const joinWorkersPhase: Phase<null> = {
  name: 'join-workers',
  title: 'workers joined (token, TLS bootstrap, node registered)',
  description: 'Joins every worker that has no kubelet.conf: a fresh bootstrap token, the CA, bootstrap-kubelet.conf and the kubelet files, then waits for its Node.',
  selectHosts: (ctx) => ctx.hosts.filter((h) => !isControlPlane(h.spec)),
  async plan(_ctx, target) {
    if (await target.host.exists(KUBELET_CONF)) return { changes: [] };
    return { changes: [{ target: 'cluster membership', summary: 'join as a worker (bootstrap token, kubelet TLS bootstrap)', payload: null }] };
  },
  async apply(ctx, target) {
    const cp = controlPlane(ctx);
    const server = serverUrl(clusterPki(ctx.inventory), nodePki(cp.spec), 'endpoint');
    const node = target.spec.nodeName;
    await requireApi(cp, 'the control plane must be up before workers join', async (api, ca) => {
      const token = generateToken();
      const secret = tokenSecret(token, { description: `kubestrap: joining ${node}`, ttlSeconds: JOIN_TOKEN_TTL_SECONDS, usages: DEFAULT_TOKEN_USAGES, groups: DEFAULT_TOKEN_GROUPS, now: new Date() });
      await api.apply(secret);
      await startKubeletBootstrap(target, { clusterName: ctx.inventory.cluster.name, server, caCertPem: ca, token, kubeletFiles: kubeletFiles(ctx.inventory, target.spec, target.facts.hostname) });
      await pollUntil(() => api.get({ apiVersion: 'v1', kind: 'Node', name: node }), {
        timeoutMs: REGISTER_WAIT_MS,
        failure: () => `${node}'s kubelet did not register its Node within ${REGISTER_WAIT_MS / 1000} s (see journalctl -u kubelet on ${target.spec.name})`,
      });
      await awaitKubeletBootstrap(target);
      // the kubelet has its own certificate now: the token that could join any node goes
      await api.delete(refOf(secret));
      // the inventory's labels (its taints were registered by the kubelet itself)
      await markInventoryNode(api, ctx.inventory, node);
      if (ctx.inventory.cluster.addons.metricsServer && !ctx.inventory.cluster.addons.metricsServerInsecureTLS) await approveWhenAsked(api, node, nodeIdentities(ctx.inventory).get(node));
    });
  },
};
