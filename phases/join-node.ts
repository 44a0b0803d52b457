/**
 * The last phase of `kubestrap join` on the node itself, after discovery.
 * join-node (a worker): the kubelet's files (its configuration exactly as the cluster publishes
 * it in kubelet-config, like kubeadm), the CA and the bootstrap kubeconfig, the kubelet started,
 * its TLS bootstrap and its Node registration awaited.
 * join-control-plane-node: src/join/control-plane-join.ts with the downloaded CA material and an
 * etcd member found through the API.
 * A node that has joined is left alone, so a re-run after a failure resumes.
 */
import { nodeIdentities } from '../src/kube/node-marking.js';
import { awaitKubeletBootstrap, awaitNodeRegistered, startKubeletBootstrap } from '../src/join/kubelet-bootstrap.js';
import { ETCD_CLIENT_PORT, EtcdClient, type EtcdCredentials } from '../src/etcd/client.js';
import { controlPlaneJoined, joinControlPlane } from '../src/join/control-plane-join.js';
import { ApiClient, kubeconfigCredentials } from '../src/kube/api-client.js';
import type { BootstrapToken } from '../src/pki/bootstrap-token.js';
import type { FileSet } from '../src/pki/cluster-pki.js';
import { CONTROL_PLANE_JOIN, membershipPlan } from '../src/join/membership-plan.js';
import type { Phase } from '../src/kit/phase.js';
import { kubeletFiles } from '../src/kube/node-files.js';
import { KUBELET_CONF } from '../templates/paths.js';

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
    description:
      "Writes the CA, bootstrap-kubelet.conf and the kubelet's files from the cluster's kubelet-config, starts the kubelet and waits for its TLS bootstrap.",
    async plan(_ctx, target) {
      if (await target.host.exists(KUBELET_CONF)) return { changes: [] };
      const kubelet = await target.host.exec('command -v kubelet');
      if (kubelet.code !== 0)
        throw new Error(
          "kubelet is not installed on this node: install the kubelet package of the cluster's version (or pass --config with the inventory, whose package settings kubestrap then uses)",
        );
      return membershipPlan(false, `join ${new URL(input.server).host} as a worker (kubelet TLS bootstrap)`);
    },
    async apply(ctx, target) {
      const files = kubeletFiles(ctx.inventory, target.spec, target.facts.hostname, input.kubeletConfig);
      await startKubeletBootstrap(target, {
        clusterName: ctx.inventory.cluster.name,
        server: input.server,
        caCertPem: input.caCertPem,
        token: input.token,
        kubeletFiles: files,
      });
      await awaitKubeletBootstrap(target);
      await awaitNodeRegistered(target, input.server, input.caCertPem, target.spec.nodeName);
    },
  };
}

export interface ControlPlaneNodeJoinInput {
  /** An API server the node reached during discovery (the published endpoint may not resolve yet). */
  readonly via: string;
  /** The shared CA material, decrypted from kubeadm-certs. */
  readonly shared: FileSet;
  /** The cluster's kubelets ask for serving certificates: a control plane approves its own. */
  readonly approveOwnServingCertificate: boolean;
}

/**
 * A running etcd member, found through the API: kubeadm's annotation on the etcd pods, and,
 * since a kubelet may take a while to publish its mirror pods, every API server's address
 * (stacked etcd runs beside each one).
 */
async function runningEtcd(via: string, adminKubeconfig: string, credentials: EtcdCredentials): Promise<EtcdClient> {
  const admin = kubeconfigCredentials(adminKubeconfig);
  const api = ApiClient.direct(via, { ca: admin.ca, cert: admin.cert, key: admin.key });
  const pods = await api.list('/api/v1/namespaces/kube-system/pods?labelSelector=component%3Detcd');
  const apiServers = (await api.get({ apiVersion: 'v1', kind: 'Endpoints', namespace: 'default', name: 'kubernetes' })) as
    { subsets?: Array<{ addresses?: Array<{ ip: string }> }> } | undefined;
  const urls = [
    ...pods.flatMap((p) =>
      ((p.metadata as { annotations?: Record<string, string> }).annotations?.['kubeadm.kubernetes.io/etcd.advertise-client-urls'] ?? '')
        .split(',')
        .filter(Boolean),
    ),
    ...(apiServers?.subsets ?? [])
      .flatMap((s) => s.addresses ?? [])
      .map((a) => `https://${a.ip.includes(':') ? `[${a.ip}]` : a.ip}:${ETCD_CLIENT_PORT}`),
  ].filter((url, i, all) => all.indexOf(url) === i);
  const problems: string[] = [];
  for (const url of urls) {
    const client = EtcdClient.direct(url, credentials);
    try {
      await client.members();
      return client;
    } catch (err) {
      problems.push(`${url}: ${(err as Error).message}`);
    }
  }
  throw new Error(
    `no etcd member of the cluster answers from this node${problems.length ? `: ${problems.join('; ')}` : ' (no etcd pods with kubeadm.kubernetes.io/etcd.advertise-client-urls found)'}`,
  );
}

/** `kubestrap join --control-plane`: this node becomes another control plane. */
export function joinControlPlaneNodePhase(input: ControlPlaneNodeJoinInput): Phase<null> {
  return {
    name: 'join-control-plane-node',
    title: 'this node joined as a control plane (certificates, etcd member, static pods)',
    description:
      'Issues this control plane its certificates from the downloaded CAs, adds its etcd member, writes its static pods and kubelet files, waits for its API server and marks its Node.',
    async plan(ctx, target) {
      return membershipPlan(await controlPlaneJoined(ctx.inventory, target), CONTROL_PLANE_JOIN);
    },
    async apply(ctx, target) {
      // the names and addresses kubestrap registers this node with: what a serving certificate of it may carry
      const identity = nodeIdentities(ctx.inventory).get(target.spec.nodeName)!;
      await joinControlPlane(ctx.inventory, target, {
        shared: input.shared,
        openEtcd: ({ etcd, adminKubeconfig }) => runningEtcd(input.via, adminKubeconfig, etcd),
        ...(input.approveOwnServingCertificate ? { servingIdentity: identity } : {}),
      });
    },
  };
}
