/**
 * join-control-planes: the inventory's second and further control planes join the running one
 * (src/join/control-plane-join.ts), the workstation carrying the first control plane's shared
 * CA material over SSH (no kubeadm-certs Secret needed) and reaching its etcd the same way.
 * One node at a time: etcd keeps quorum only when each new member has started before the next
 * is added.
 */
import { serialQueue } from '../src/util/concurrency.js';
import { EtcdClient } from '../src/etcd/client.js';
import { controlPlaneJoined, joinControlPlane } from '../src/join/control-plane-join.js';
import { SHARED_FILES } from '../src/kube/upload-certs.js';
import { CONTROL_PLANE_JOIN, membershipPlan } from '../src/join/membership-plan.js';
import type { HostTarget, Phase, PhaseContext } from '../src/kit/phase.js';
import { nodeIdentities } from '../src/kube/node-marking.js';
import { controlPlanes, leader, onLeader } from '../src/kit/hosts.js';
import { readNodeState } from '../src/kube/node-files.js';

/** One host after another, across the phase's parallel hosts. */
const oneAtATime = serialQueue();

async function join(ctx: PhaseContext, target: HostTarget): Promise<void> {
  const first = leader(ctx, 'other control planes join through it');
  const { files } = await readNodeState(first);
  const external = ctx.inventory.cluster.etcd.external;
  // an external etcd's CA is not the cluster's: only its three files travel (below)
  const sharedPaths = external ? SHARED_FILES.filter((path) => !path.startsWith('pki/etcd/')) : SHARED_FILES;
  const externalPaths = external ? [external.caFile, external.certFile, external.keyFile] : [];
  const externalFiles = await first.host.readFiles(externalPaths);
  const missing = [...sharedPaths.filter((path) => !files.has(path)), ...externalPaths.filter((path) => !externalFiles.get(path))];
  if (missing.length)
    throw new Error(`${first.spec.name} lacks ${missing.join(', ')}: the first control plane must be set up before others join`);
  const addons = ctx.inventory.cluster.addons;
  await joinControlPlane(ctx.inventory, target, {
    shared: new Map(sharedPaths.map((path) => [path, files.get(path)!])),
    ...(external
      ? { externalEtcdFiles: new Map(externalPaths.map((path) => [path, externalFiles.get(path)!.content.toString('utf8')])) }
      : {}),
    openEtcd: ({ etcd }) => EtcdClient.open(first.host, etcd),
    ...(addons.metricsServer && !addons.metricsServerInsecureTLS
      ? { servingIdentity: nodeIdentities(ctx.inventory).get(target.spec.nodeName)! }
      : {}),
  });
}

export const joinControlPlanesPhase: Phase<null> = {
  name: 'join-control-planes',
  title: 'other control planes joined (shared CAs, own certificates, etcd member, static pods)',
  description:
    "Joins every control plane after the first: the first one's CA material, the node's own certificates and kubeconfigs, its etcd member added, its static pods and kubelet; waits for its API server and marks its Node.",
  selectHosts: (ctx) => {
    const first = onLeader(ctx)[0];
    return controlPlanes(ctx).filter((h) => h !== first);
  },
  async plan(ctx, target) {
    return membershipPlan(await controlPlaneJoined(ctx.inventory, target), CONTROL_PLANE_JOIN);
  },
  apply: (ctx, target) => oneAtATime(() => join(ctx, target)),
};
