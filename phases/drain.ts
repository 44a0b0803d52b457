/**
 * drain (remove-node): the leaving node cordoned and its pods evicted, as `kubectl drain
 * --ignore-daemonsets --delete-emptydir-data` does, through another control plane's API.
 */
import { requireApiOf } from '../src/kube/admin-api.js';
import { deletePodsOfDeletedNode, drainNode } from '../src/kube/drain.js';
import type { Phase } from '../src/kit/phase.js';

/** The node remove-node takes out: its host, its Node, and the control plane whose API does it. */
export interface NodeLeaving {
  readonly host: string;
  readonly node: string;
  readonly apiHost: string;
}

const WHY = 'the node is removed through its API';

export function drainPhase(leaving: NodeLeaving): Phase<null> {
  return {
    name: 'drain',
    title: `${leaving.node} cordoned and drained`,
    description: 'Cordons the node and evicts its pods (DaemonSet and static pods stay).',
    selectHosts: (ctx) => ctx.hosts.filter((h) => h.spec.name === leaving.host),
    async plan(ctx) {
      const live = await requireApiOf(ctx, leaving.apiHost, WHY, (api) => api.get({ apiVersion: 'v1', kind: 'Node', name: leaving.node }));
      return { changes: live ? [{ target: `Node ${leaving.node}`, summary: 'cordon and drain (evict its pods)', payload: null }] : [] };
    },
    async apply(ctx, target) {
      await requireApiOf(ctx, leaving.apiHost, WHY, (api) =>
        drainNode(api, leaving.node, (line) => {
          ctx.progress(target.spec.name, `drain: ${line}`);
        }),
      );
    },
  };
}

/** delete-node (remove-node, after the reset): the leaving node's Node object deleted. */
export function deleteNodePhase(leaving: NodeLeaving): Phase<null> {
  return {
    name: 'delete-node',
    title: `Node ${leaving.node} deleted`,
    description: 'Deletes the Node object once the host is reset.',
    selectHosts: (ctx) => ctx.hosts.filter((h) => h.spec.name === leaving.host),
    async plan(ctx) {
      const live = await requireApiOf(ctx, leaving.apiHost, WHY, (api) => api.get({ apiVersion: 'v1', kind: 'Node', name: leaving.node }));
      return {
        changes: live ? [{ target: `Node ${leaving.node}`, summary: 'delete, with the pods still bound to it', payload: null }] : [],
      };
    },
    async apply(ctx) {
      await requireApiOf(ctx, leaving.apiHost, WHY, async (api) => {
        await api.delete({ apiVersion: 'v1', kind: 'Node', name: leaving.node });
        await deletePodsOfDeletedNode(api, leaving.node);
      });
    },
  };
}
