/**
 * reset (`kubestrap reset`, not part of apply): undoes what joining the cluster did on a host.
 * A control plane first leaves etcd (its own member removed through a member that stays, one
 * member at a time, its API server stopped before) — unless every member goes in this run, when
 * there is no cluster left to leave and any order is safe; then the kubelet is stopped and
 * disabled and every leftover removed (src/reset/leftovers.ts). The plan lists what is there, so
 * `reset --dry-run` shows what would go and a reset host reports no changes.
 */
import { EtcdClient } from '../src/etcd/client.js';
import { readyToStop, removeMember, withMembers } from '../src/etcd/member-gate.js';
import { serviceOf } from '../src/facts/services.js';
import { isControlPlane } from '../src/inventory/resolve.js';
import { manifestPath } from '../src/kube/node-files.js';
import { stopApiServer } from '../src/kube/static-pods.js';
import { describeLeftovers, findLeftovers, parseLeftovers, removeLeftovers } from '../src/reset/leftovers.js';
import { serialQueue } from '../src/util/concurrency.js';
import type { Change, HostTarget, Phase, PhaseContext } from '../src/kit/phase.js';
import type { EtcdMember } from '../src/etcd/client.js';

/** `via`: the client URL of a member that stays, which the removal goes through; `staying`: the IDs of every such member. */
type Payload = { kind: 'etcd-member'; id: string; via: string; staying: readonly string[] } | { kind: 'kubelet' } | { kind: 'leftovers' };

const isMemberOf = (m: EtcdMember, target: HostTarget) =>
  m.name === target.spec.nodeName || m.peerUrls.some((u) => u.includes(`//${target.spec.advertiseAddress}:`));

/**
 * The member to remove: this node's, while members on hosts this run does not reset keep the
 * data. When every member's host is reset here, none is removed: removing them in turn would
 * take the last ones below quorum while the others stop.
 */
async function etcdMemberToRemove(
  target: HostTarget,
  leaving: readonly HostTarget[],
): Promise<{ id: string; name: string; via: string; staying: string[] } | undefined> {
  const etcd = await EtcdClient.onControlPlane(target.host);
  if (!etcd) return undefined;
  try {
    const members = await etcd.members().catch(() => []);
    const own = members.find((m) => isMemberOf(m, target));
    const staying = members.filter((m) => !leaving.some((h) => isMemberOf(m, h)) && m.clientUrls.length > 0);
    const via = staying[0]?.clientUrls[0];
    return own && via ? { id: own.id, name: own.name, via, staying: staying.map((m) => m.id) } : undefined;
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
    description:
      'Removes the etcd member of a control plane, stops and disables the kubelet, removes containers, kubelet and etcd state, Kubernetes files, CNI configuration and interfaces, and kube-proxy/CNI firewall rules.',
    selectHosts: select,
    async plan(ctx, target) {
      const changes: Change<Payload>[] = [];
      // an external etcd's members are not the control planes': none leaves it with them
      if (isControlPlane(target.spec) && !ctx.inventory.cluster.etcd.external) {
        const member = await etcdMemberToRemove(
          target,
          select(ctx).filter((h) => isControlPlane(h.spec)),
        );
        if (member)
          changes.push({
            target: `etcd member ${member.name}`,
            summary: 'remove from the etcd cluster (the other members keep the data)',
            payload: { kind: 'etcd-member', id: member.id, via: member.via, staying: member.staying },
          });
      }
      const kubelet = serviceOf(target.facts.initSystem, 'kubelet');
      if (kubelet) {
        const active = await target.host.exec(kubelet.status());
        if (/^(enabled enabled|active (active|activating|failed))$/m.test(active.stdout))
          changes.push({ target: 'service kubelet', summary: 'stop and disable', payload: { kind: 'kubelet' } });
      }
      const found = parseLeftovers((await target.host.check(findLeftovers(ctx.inventory.cluster.etcd.external !== undefined))).stdout);
      const leftovers = describeLeftovers(found);
      if (leftovers.length) changes.push(...leftovers.map((l) => ({ ...l, payload: { kind: 'leftovers' as const } })));
      return { changes };
    },
    async apply(ctx, target, changes) {
      const member = changes.find((c) => c.payload.kind === 'etcd-member')?.payload;
      if (member?.kind === 'etcd-member') {
        await oneMemberAtATime(() =>
          // through a member that stays: the leaving one may be down, and stops as soon as it
          // applies its own removal, so it may answer "server stopped" to the request that did it
          withMembers(
            target.host,
            target.spec.name,
            async (members) => {
              if (!members) throw new Error(`${target.spec.name}: the API server's etcd client certificate is gone`);
              // the others healthy (a removal must not cost the quorum) and, were this member the
              // leader, the leadership with one that stays: a leader removed outright leaves the
              // others without one until they elect another, and the API servers' reads fail meanwhile
              const successor = await readyToStop(members, member.id, (m) => member.staying.includes(m.id));
              if (successor) ctx.progress(target.spec.name, `etcd: leadership handed to ${successor.name}, a member that stays`);
              // a removed member stops its etcd: its API server leaves the balancers' rotation first (the kubelet stops it)
              if (changes.some((c) => c.payload.kind === 'kubelet') && (await target.host.exists(manifestPath('kube-apiserver'))))
                await stopApiServer(target);
              await removeMember(members, member.id);
            },
            member.via,
          ),
        );
      }
      const kubelet = serviceOf(target.facts.initSystem, 'kubelet');
      if (kubelet && changes.some((c) => c.payload.kind === 'kubelet')) await target.host.exec(kubelet.disableNow());
      if (changes.some((c) => c.payload.kind === 'leftovers'))
        await target.host.check(removeLeftovers(ctx.inventory.cluster.etcd.external !== undefined), { timeoutMs: 180_000 });
    },
  };
}
