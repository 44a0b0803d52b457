/**
 * join-node: `kubestrap join` on the node itself, after discovery: the kubelet's files (its
 * configuration exactly as the cluster publishes it in kubelet-config, like kubeadm), the CA and
 * the bootstrap kubeconfig, the kubelet started, its TLS bootstrap and its Node registration awaited. A node that has
 * its kubelet.conf has joined and is left alone, so a re-run after a failure resumes.
 */
import { awaitKubeletBootstrap, awaitNodeRegistered, KUBELET_CONF, startKubeletBootstrap } from '../src/join/kubelet-bootstrap.js';
import type { BootstrapToken } from '../src/pki/bootstrap-token.js';
import type { Phase } from '../src/workflow/phase.js';
import { kubeletFiles } from './control-plane.js';

export interface NodeJoinInput {
  readonly server: string;
  readonly caCertPem: string;
  readonly token: BootstrapToken;
  /** The cluster's KubeletConfiguration (kube-system/kubelet-config*), written as is. */
  readonly kubeletConfig: string;
}

export function joinNodePhase(input: NodeJoinInput): Phase<null> {
  return {
    name: 'join-node',
    title: 'this node joined (bootstrap kubeconfig, kubelet TLS bootstrap)',
    description: "Writes the CA, bootstrap-kubelet.conf and the kubelet's files from the cluster's kubelet-config, starts the kubelet and waits for its TLS bootstrap.",
    async plan(_ctx, target) {
      if (await target.host.exists(KUBELET_CONF)) return { changes: [] };
      const kubelet = await target.host.exec('command -v kubelet');
      if (kubelet.code !== 0) throw new Error('kubelet is not installed on this node: install the kubelet package of the cluster\'s version (or pass --config with the inventory, whose package settings kubestrap then uses)');
      return { changes: [{ target: 'cluster membership', summary: `join ${new URL(input.server).host} as a worker (kubelet TLS bootstrap)`, payload: null }] };
    },
    async apply(ctx, target) {
      const files = kubeletFiles(ctx.inventory, target.spec, target.facts.hostname, input.kubeletConfig);
      await startKubeletBootstrap(target, { clusterName: ctx.inventory.cluster.name, server: input.server, caCertPem: input.caCertPem, token: input.token, kubeletFiles: files });
      await awaitKubeletBootstrap(target);
      await awaitNodeRegistered(target, input.server, input.caCertPem, target.spec.nodeName);
    },
  };
}
