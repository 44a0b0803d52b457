/**
 * join-control-planes: the inventory's second and further control planes join the running one
 * (src/join/control-plane-join.ts), the workstation carrying the first control plane's shared
 * CA material over SSH (no kubeadm-certs Secret needed) and reaching its etcd the same way.
 * One node at a time: etcd keeps quorum only when each new member has started before the next
 * is added.
 */
import { serialQueue } from '../src/util/concurrency.js';
import { EtcdClient } from '../src/etcd/client.js';
import { isControlPlane } from '../src/inventory/resolve.js';
import { controlPlaneJoined, joinControlPlane } from '../src/join/control-plane-join.js';
import { SHARED_FILES } from '../src/kube/upload-certs.js';
import type { HostTarget, Phase, PhaseContext } from '../src/workflow/phase.js';
import { nodeIdentities } from '../src/kube/node-marking.js';
import { onFirstControlPlane } from './control-plane.js';
import { readNodeState } from '../src/kube/node-files.js';

/** One host after another, across the phase's parallel hosts. */
const oneAtATime = serialQueue();

function firstControlPlane(ctx: PhaseContext): HostTarget {
  const first = onFirstControlPlane(ctx)[0];
  if (!first) throw new Error("the inventory's first control plane is not reachable: other control planes join through it");
  return first;
}

async function join(ctx: PhaseContext, target: HostTarget): Promise<void> {
  const first = firstControlPlane(ctx);
  const { files } = await readNodeState(first);
  const external = ctx.inventory.cluster.etcd.external;
  // an external etcd's CA is not the cluster's: only its three files travel (below)
  const sharedPaths = external ? SHARED_FILES.filter((path) => !path.startsWith('pki/etcd/')) : SHARED_FILES;
  const externalPaths = external ? [external.caFile, external.certFile, external.keyFile] : [];
  const externalFiles = await first.host.readFiles(externalPaths);
  const missing = [...sharedPaths.filter((path) => !files.has(path)), ...externalPaths.filter((path) => !externalFiles.get(path))];
  if (missing.length) throw new Error(`${first.spec.name} lacks ${missing.join(', ')}: the first control plane must be set up before others join`);
  const addons = ctx.inventory.cluster.addons;
  await joinControlPlane(ctx.inventory, target, {
    shared: new Map(sharedPaths.map((path) => [path, files.get(path)!])),
    ...(external ? { externalEtcdFiles: new Map(externalPaths.map((path) => [path, externalFiles.get(path)!.content.toString('utf8')])) } : {}),
    openEtcd: ({ etcd }) => EtcdClient.open(first.host, etcd),
    ...(addons.metricsServer && !addons.metricsServerInsecureTLS ? { servingIdentity: nodeIdentities(ctx.inventory).get(target.spec.nodeName)! } : {}),
  });
}

export const joinControlPlanesPhase: Phase<null> = {
  name: 'join-control-planes',
  title: 'other control planes joined (shared CAs, own certificates, etcd member, static pods)',
  description: "Joins every control plane after the first: the first one's CA material, the node's own certificates and kubeconfigs, its etcd member added, its static pods and kubelet; waits for its API server and marks its Node.",
  selectHosts: (ctx) => {
    const first = onFirstControlPlane(ctx)[0];
    return ctx.hosts.filter((h) => isControlPlane(h.spec) && h !== first);
  },
  async plan(ctx, target) {
    if (await controlPlaneJoined(ctx.inventory, target)) return { changes: [] };
    return { changes: [{ target: 'cluster membership', summary: 'join as a control plane (etcd member, API server, controller-manager, scheduler)', payload: null }] };
  },
  apply: (ctx, target) => oneAtATime(() => join(ctx, target)),
};
