/**
 * reset (`kubestrap reset`, not part of apply): undoes what joining the cluster did on a host.
 * A control plane first leaves etcd (its own member removed through a member that stays, one
 * member at a time, its API server stopped before) — unless every member goes in this run, when
 * there is no cluster left to leave and any order is safe; then the kubelet is stopped and
 * disabled and every leftover removed (src/reset/leftovers.ts). The plan lists what is there, so
 * `reset --dry-run` shows what would go and a reset host reports no changes.
 */
import { controlPlaneCredentials, EtcdClient } from '../src/etcd/client.js';
import { serviceControl } from '../src/facts/services.js';
import { isControlPlane } from '../src/inventory/resolve.js';
import { manifestPath } from '../src/kube/node-files.js';
import { stopApiServer } from '../src/kube/static-pods.js';
import { describeLeftovers, findLeftovers, parseLeftovers, removeLeftovers } from '../src/reset/leftovers.js';
import { serialQueue } from '../src/util/concurrency.js';
import type { Change, HostTarget, Phase, PhaseContext } from '../src/workflow/phase.js';
import type { EtcdMember } from '../src/etcd/client.js';

/** `via`: the client URL of a member that stays, which the removal goes through. */
type Payload = { kind: 'etcd-member'; id: string; via: string } | { kind: 'kubelet' } | { kind: 'leftovers' };

const isMemberOf = (m: EtcdMember, target: HostTarget) => m.name === target.spec.nodeName || m.peerUrls.some((u) => u.includes(`//${target.spec.advertiseAddress}:`));

/**
 * The member to remove: this node's, while members on hosts this run does not reset keep the
 * data. When every member's host is reset here, none is removed: removing them in turn would
 * take the last ones below quorum while the others stop.
 */
async function etcdMemberToRemove(target: HostTarget, leaving: readonly HostTarget[]): Promise<{ id: string; name: string; via: string } | undefined> {
  const etcd = await EtcdClient.onControlPlane(target.host);
  if (!etcd) return undefined;
  try {
    const members = await etcd.members().catch(() => []);
    const own = members.find((m) => isMemberOf(m, target));
    const via = members.find((m) => !leaving.some((h) => isMemberOf(m, h)) && m.clientUrls.length > 0)?.clientUrls[0];
    return own && via ? { id: own.id, name: own.name, via } : undefined;
  } finally {
    await etcd.close();
  }
}

/** `select`: the hosts to reset (default: all of the run). */
export function resetPhase(select: (ctx: PhaseContext) => readonly HostTarget[] = (ctx) => ctx.hosts): Phase<Payload> {
  // a member leaves while the others are all up: one removal at a time, across the phase's hosts
  const oneMemberAtATime = serialQueue();
  return {
    name: 'reset',
    title: 'Kubernetes removed from the host (etcd member, kubelet, state, containers, network leftovers)',
    description: 'Removes the etcd member of a control plane, stops and disables the kubelet, removes containers, kubelet and etcd state, Kubernetes files, CNI configuration and interfaces, and kube-proxy/CNI firewall rules.',
    selectHosts: select,
    async plan(ctx, target) {
      const changes: Change<Payload>[] = [];
      // an external etcd's members are not the control planes': none leaves it with them
      if (isControlPlane(target.spec) && !ctx.inventory.cluster.etcd.external) {
        const member = await etcdMemberToRemove(target, select(ctx).filter((h) => isControlPlane(h.spec)));
        if (member) changes.push({ target: `etcd member ${member.name}`, summary: 'remove from the etcd cluster (the other members keep the data)', payload: { kind: 'etcd-member', id: member.id, via: member.via } });
      }
      const services = serviceControl(target.facts.initSystem);
      if (services) {
        const active = await target.host.exec(`${services.status('kubelet')}`);
        if (/^(enabled enabled|active active)$/m.test(active.stdout)) changes.push({ target: 'service kubelet', summary: 'stop and disable', payload: { kind: 'kubelet' } });
      }
      const found = parseLeftovers((await target.host.check(findLeftovers(ctx.inventory.cluster.etcd.external !== undefined))).stdout);
      const leftovers = describeLeftovers(found);
      if (leftovers.length) changes.push(...leftovers.map((l) => ({ ...l, payload: { kind: 'leftovers' as const } })));
      return { changes };
    },
    async apply(ctx, target, changes) {
      const member = changes.find((c) => c.payload.kind === 'etcd-member')?.payload;
      if (member?.kind === 'etcd-member') {
        await oneMemberAtATime(async () => {
          // a removed member stops its etcd: its API server leaves the balancers' rotation first (the kubelet stops it)
          if (changes.some((c) => c.payload.kind === 'kubelet') && (await target.host.exists(manifestPath('kube-apiserver')))) await stopApiServer(target);
          // through a member that stays: the leaving one stops as soon as it applies its own
          // removal, and may answer "server stopped" to the request that did it
          const etcd = await EtcdClient.via(target.host, member.via, (await controlPlaneCredentials(target.host))!);
          try {
            await etcd.removeMember(member.id);
          } finally {
            await etcd.close();
          }
        });
      }
      const services = serviceControl(target.facts.initSystem);
      if (services && changes.some((c) => c.payload.kind === 'kubelet')) await target.host.exec(services.disableNow('kubelet'));
      if (changes.some((c) => c.payload.kind === 'leftovers')) await target.host.check(removeLeftovers(ctx.inventory.cluster.etcd.external !== undefined), { timeoutMs: 180_000 });
    },
  };
}
