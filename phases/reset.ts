/**
 * reset (`kubestrap reset`, not part of apply): undoes what joining the cluster did on a host.
 * A control plane first leaves etcd (its own member removed through its own etcd, unless it is
 * the last one; its API server stopped before), then the kubelet is stopped and disabled and
 * every leftover removed (src/reset/leftovers.ts). The plan lists what is there, so
 * `reset --dry-run` shows what would go and a reset host reports no changes.
 */
import { EtcdClient } from '../src/etcd/client.js';
import { serviceControl } from '../src/facts/services.js';
import { isControlPlane } from '../src/inventory/resolve.js';
import { manifestPath } from '../src/kube/node-files.js';
import { stopApiServer } from '../src/kube/static-pods.js';
import { describeLeftovers, FIND_LEFTOVERS, parseLeftovers, REMOVE_LEFTOVERS } from '../src/reset/leftovers.js';
import type { Change, HostTarget, Phase } from '../src/workflow/phase.js';

type Payload = { kind: 'etcd-member'; id: string } | { kind: 'kubelet' } | { kind: 'leftovers' };

/** The member to remove: this node's, when other members remain to keep the data. */
async function etcdMemberToRemove(target: HostTarget): Promise<{ id: string; name: string } | undefined> {
  const etcd = await EtcdClient.onControlPlane(target.host);
  if (!etcd) return undefined;
  try {
    const members = await etcd.members().catch(() => []);
    const own = members.find((m) => m.name === target.spec.nodeName || m.peerUrls.some((u) => u.includes(`//${target.spec.advertiseAddress}:`)));
    return own && members.length > 1 ? { id: own.id, name: own.name } : undefined;
  } finally {
    await etcd.close();
  }
}

export const resetPhase: Phase<Payload> = {
  name: 'reset',
  title: 'Kubernetes removed from the host (etcd member, kubelet, state, containers, network leftovers)',
  description: 'Removes the etcd member of a control plane, stops and disables the kubelet, removes containers, kubelet and etcd state, Kubernetes files, CNI configuration and interfaces, and kube-proxy/CNI firewall rules.',
  async plan(_ctx, target) {
    const changes: Change<Payload>[] = [];
    if (isControlPlane(target.spec)) {
      const member = await etcdMemberToRemove(target);
      if (member) changes.push({ target: `etcd member ${member.name}`, summary: 'remove from the etcd cluster (the other members keep the data)', payload: { kind: 'etcd-member', id: member.id } });
    }
    const services = serviceControl(target.facts.initSystem);
    if (services) {
      const active = await target.host.exec(`${services.status('kubelet')}`);
      if (/^(enabled enabled|active active)$/m.test(active.stdout)) changes.push({ target: 'service kubelet', summary: 'stop and disable', payload: { kind: 'kubelet' } });
    }
    const found = parseLeftovers((await target.host.check(FIND_LEFTOVERS)).stdout);
    const leftovers = describeLeftovers(found);
    if (leftovers.length) changes.push(...leftovers.map((l) => ({ ...l, payload: { kind: 'leftovers' as const } })));
    return { changes };
  },
  async apply(_ctx, target, changes) {
    const member = changes.find((c) => c.payload.kind === 'etcd-member')?.payload;
    if (member?.kind === 'etcd-member') {
      // a removed member stops its etcd: its API server leaves the balancers' rotation first (the kubelet stops it)
      if (changes.some((c) => c.payload.kind === 'kubelet') && (await target.host.exists(manifestPath('kube-apiserver')))) await stopApiServer(target);
      const etcd = (await EtcdClient.onControlPlane(target.host))!;
      try {
        await etcd.removeMember(member.id);
      } finally {
        await etcd.close();
      }
    }
    const services = serviceControl(target.facts.initSystem);
    if (services && changes.some((c) => c.payload.kind === 'kubelet')) await target.host.exec(services.disableNow('kubelet'));
    if (changes.some((c) => c.payload.kind === 'leftovers')) await target.host.check(REMOVE_LEFTOVERS, { timeoutMs: 180_000 });
  },
};
