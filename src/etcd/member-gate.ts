/**
 * Restarting or removing one member of a stacked etcd without the rest of the cluster noticing.
 * As kubeadm's upgrade does: every other member healthy before (its stop must not cost the
 * quorum), a restarted member back and caught up after (before its API server returns or the
 * next member goes). One step further than kubeadm: a leader first hands its leadership to a
 * caught-up follower, so the others never wait out an election, under load longer than the API
 * servers' 2 s etcd check (a removed leader left CI's API reads 1.3 s without a leader).
 */
import type { Host } from '../transport/host.js';
import { pollUntil } from '../util/poll.js';
import { controlPlaneCredentials, EtcdClient, type EtcdMember, type EtcdStatus } from './client.js';
import { messageOf } from '../util/errors.js';

const WAIT_MS = 240_000;
const POLL_MS = 1000;
/** Raft entries a member may trail its leader by and count as caught up: a busy cluster writes on. */
const CAUGHT_UP_SLACK = 1000n;

export interface MemberAccess {
  /**
   * The member asked about the cluster: for a restart, the restarted member itself (a control
   * plane's loopback); for a removal, one that stays (the leaving one may be down).
   */
  readonly entry: EtcdClient;
  /** Any member of the cluster, by its client URL (closed by whoever made the access). */
  reach(member: EtcdMember): Promise<EtcdClient>;
  /** The node, for messages. */
  readonly node: string;
}

interface Survey {
  readonly members: readonly EtcdMember[];
  readonly statuses: ReadonlyMap<string, EtcdStatus>;
  /** Why each unhealthy member is not healthy, by member ID. */
  readonly problems: ReadonlyMap<string, string>;
}

const named = (m: EtcdMember) => `${m.name || '(never started)'} ${m.clientUrls[0] ?? m.peerUrls[0] ?? m.id}`;

/** Every member's status and health, judged against the leader they report. */
async function survey(access: MemberAccess): Promise<Survey> {
  const members = await access.entry.members();
  const statuses = new Map<string, EtcdStatus>();
  const problems = new Map<string, string>();
  await Promise.all(
    members.map(async (m) => {
      if (!m.name || !m.clientUrls[0]) return problems.set(m.id, 'it was added but never started');
      try {
        const client = await access.reach(m);
        const status = await client.status();
        if (status.leader === '0') return problems.set(m.id, 'it knows no leader');
        if (status.errors.length) return problems.set(m.id, `it reports ${status.errors.join('; ')}`);
        await client.linearizableRead();
        statuses.set(m.id, status);
      } catch (err) {
        problems.set(m.id, (err as Error).message);
      }
      return undefined;
    }),
  );
  const leaders = new Set([...statuses.values()].map((s) => s.leader));
  if (leaders.size > 1)
    for (const id of statuses.keys()) problems.set(id, `the members disagree on the leader (${[...leaders].join(', ')})`);
  const leader = statuses.get([...leaders][0] ?? '');
  for (const [id, status] of statuses) {
    if (leader && status.raftAppliedIndex + CAUGHT_UP_SLACK < leader.raftIndex)
      problems.set(id, `it trails the leader by ${leader.raftIndex - status.raftAppliedIndex} raft entries`);
  }
  return { members, statuses, problems };
}

const othersHealthy = (s: Survey, self: string) => s.members.every((m) => m.id === self || !s.problems.has(m.id));

async function memberId(access: MemberAccess): Promise<string> {
  try {
    return (await access.entry.status()).memberId;
  } catch (err) {
    throw new Error(`${access.node}: its etcd member does not answer: ${messageOf(err)} (/var/log/pods/kube-system_etcd-*)`, {
      cause: err,
    });
  }
}

/**
 * Returns once member `self` may stop or leave: every other member healthy, and the leadership,
 * if `self` held it, handed to the most caught-up of the members `mayLead` accepts (returned then).
 */
export async function readyToStop(
  access: MemberAccess,
  self: string,
  mayLead: (m: EtcdMember) => boolean = () => true,
  timeoutMs = WAIT_MS,
): Promise<EtcdMember | undefined> {
  let last: Survey | undefined;
  const unhealthy = () =>
    (last?.members ?? []).filter((m) => m.id !== self && last!.problems.has(m.id)).map((m) => `${named(m)}: ${last!.problems.get(m.id)}`);
  const ready = await pollUntil(async () => ((last = await survey(access)), othersHealthy(last, self) && last), {
    timeoutMs,
    intervalMs: POLL_MS,
    failure: () =>
      `${access.node}: etcd is not healthy, and stopping this member could cost the cluster its quorum: ${unhealthy().join('; ')}`,
  });
  const others = ready.members.filter((m) => m.id !== self);
  const candidates = others.filter(mayLead);
  const own = ready.members.find((m) => m.id === self);
  if (!own || ready.statuses.get(self)?.leader !== self || !candidates.length) return undefined;
  const successor = candidates.reduce((a, b) =>
    ready.statuses.get(b.id)!.raftAppliedIndex > ready.statuses.get(a.id)!.raftAppliedIndex ? b : a,
  );
  // only the leader accepts the hand-over
  await (await access.reach(own)).moveLeader(successor.id);
  await pollUntil(
    async () => {
      const now = (last = await survey(access));
      return others.every((m) => now.statuses.get(m.id)?.leader === successor.id && !now.problems.has(m.id));
    },
    {
      timeoutMs,
      intervalMs: POLL_MS / 4,
      failure: () =>
        `${access.node}: etcd did not take ${named(successor)} as its leader: ${unhealthy().join('; ') || 'the members report another'}`,
    },
  );
  return successor;
}

/** readyToStop for the member of this node, which is restarted: any other may lead. */
export async function readyForRestart(access: MemberAccess, timeoutMs = WAIT_MS): Promise<void> {
  await readyToStop(access, await memberId(access), undefined, timeoutMs);
}

/** Returns once this node's member, restarted, answers for the cluster and has caught up with its leader. */
export async function rejoined(access: MemberAccess, timeoutMs = WAIT_MS): Promise<void> {
  let self: string | undefined;
  let last: Survey | undefined;
  await pollUntil(
    async () => {
      const id = (self ??= (await access.entry.status()).memberId);
      const now = (last = await survey(access));
      return now.statuses.has(id) && !now.problems.has(id);
    },
    {
      timeoutMs,
      intervalMs: POLL_MS,
      ignoreErrors: true,
      failure: () =>
        `${access.node}: its etcd member did not rejoin the cluster within ${timeoutMs / 1000} s: ${(self && last?.problems.get(self)) || 'it does not answer'} (/var/log/pods/kube-system_etcd-*)`,
    },
  );
}

/**
 * Access to the etcd members through the SSH connection of control plane `host` (the workstation
 * may reach none of them directly), asking its own member or, given `through`, the member with
 * that client URL; undefined for a node without the API server's etcd client certificate
 * (nothing to ask with).
 */
export async function withMembers(
  host: Host,
  node: string,
  use: (access: MemberAccess | undefined) => Promise<void>,
  through?: string,
): Promise<void> {
  const credentials = await controlPlaneCredentials(host);
  if (!credentials) return use(undefined);
  const entry = through ? await EtcdClient.via(host, through, credentials) : await EtcdClient.open(host, credentials);
  const opened = new Map<string, Promise<EtcdClient>>();
  try {
    await use({
      entry,
      node,
      reach: (m) => {
        if (!opened.has(m.id)) opened.set(m.id, EtcdClient.via(host, m.clientUrls[0]!, credentials));
        return opened.get(m.id)!;
      },
    });
  } finally {
    await Promise.all([
      entry.close(),
      ...[...opened.values()].map((c) =>
        c.then(
          (client) => client.close(),
          () => undefined,
        ),
      ),
    ]);
  }
}

/**
 * Removes member `id` through the entry member. etcd refuses a removal ("unhealthy cluster")
 * until the members that would remain have been connected for 5 s (its strict reconfiguration
 * check), as just after one of them restarted: that refusal is waited out, as kubeadm retries it.
 */
export async function removeMember(access: MemberAccess, id: string, timeoutMs = 60_000): Promise<void> {
  let refusal = '';
  await pollUntil(
    async () => {
      try {
        await access.entry.removeMember(id);
        return true;
      } catch (err) {
        if (!messageOf(err).includes('etcdserver: unhealthy cluster')) throw err;
        refusal = messageOf(err);
        return false;
      }
    },
    { timeoutMs, intervalMs: POLL_MS, failure: () => `${access.node}: etcd refuses to remove its member: ${refusal}` },
  );
}
