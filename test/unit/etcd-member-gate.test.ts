/**
 * One member of a real 3-member etcd (Debian etcd-server 3.4, TLS with kubestrap's generated
 * certificates, on loopback ports) restarted through the member gate: the leader hands over its
 * leadership first, linearizable reads on the other members do not fail meanwhile (but for etcd's
 * retryable "leader changed" to a read in flight at the hand-over's instant), the member is
 * caught up when the gate lets its API server return, and a restart that would cost the quorum
 * is refused, naming the member that is down.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { EtcdClient, type EtcdCredentials } from '../../src/etcd/client.js';
import { readyForRestart, readyToStop, rejoined, removeMember, type MemberAccess } from '../../src/etcd/member-gate.js';
import { etcdTlsFlags, freePort, generatedPki } from './real-etcd.js';
import { tempDir } from '../lab/helpers.js';

interface Member {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  process?: ChildProcess;
}

let dir: string;
let pki: string;
let credentials: EtcdCredentials;
const members: Member[] = [];

function start(m: Member, state: 'new' | 'existing'): void {
  m.process = spawn(
    'etcd',
    [
      `--name=${m.name}`,
      `--data-dir=${join(dir, m.name)}`,
      `--listen-client-urls=${m.clientUrl}`,
      `--advertise-client-urls=${m.clientUrl}`,
      `--listen-peer-urls=${m.peerUrl}`,
      `--initial-advertise-peer-urls=${m.peerUrl}`,
      `--initial-cluster=${members.map((x) => `${x.name}=${x.peerUrl}`).join(',')}`,
      `--initial-cluster-state=${state}`,
      ...etcdTlsFlags(pki),
    ],
    { stdio: 'ignore' },
  );
}

/** SIGTERM (what the kubelet sends), until the process is gone. */
async function stop(m: Member): Promise<void> {
  const child = m.process!;
  if (child.exitCode !== null) return;
  await new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}

const client = (m: Member) => EtcdClient.direct(m.clientUrl, credentials);

/** The access restartEtcdMember gives the gate, with direct connections instead of SSH forwards. */
function access(m: Member): MemberAccess {
  return { entry: client(m), node: m.name, reach: async (member) => EtcdClient.direct(member.clientUrls[0]!, credentials) };
}

async function leader(): Promise<Member> {
  const status = await client(members[0]!).status();
  const list = await client(members[0]!).members();
  const name = list.find((x) => x.id === status.leader)!.name;
  return members.find((x) => x.name === name)!;
}

/** Linearizable reads on `on`, as the API servers' etcd checks make them, until stopped; the failures. */
function pollReads(on: readonly Member[]): { stop(): Promise<{ reads: number; failures: string[] }> } {
  let going = true;
  let reads = 0;
  const failures: string[] = [];
  const loops = on.map(async (m) => {
    const c = client(m);
    while (going) {
      reads++;
      await c.linearizableRead().catch((err: Error) => failures.push(`${m.name}: ${err.message}`));
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  return {
    async stop() {
      going = false;
      await Promise.all(loops);
      return { reads, failures };
    },
  };
}

beforeAll(async () => {
  dir = tempDir('etcd3');
  pki = generatedPki(dir);
  credentials = {
    ca: readFileSync(join(pki, 'etcd/ca.crt'), 'utf8'),
    cert: readFileSync(join(pki, 'apiserver-etcd-client.crt'), 'utf8'),
    key: readFileSync(join(pki, 'apiserver-etcd-client.key'), 'utf8'),
  };
  for (const name of ['m1', 'm2', 'm3'])
    members.push({ name, clientUrl: `https://127.0.0.1:${await freePort()}`, peerUrl: `https://127.0.0.1:${await freePort()}` });
  for (const m of members) start(m, 'new');
  await rejoined(access(members[0]!), 60_000);
}, 90_000);

afterAll(() => {
  for (const m of members) m.process?.kill('SIGKILL');
});

test('the leader restarted through the gate: it hands over its leadership first; no read on the other members fails but for the retryable "leader changed" of one in flight at the hand-over; it is caught up when the gate opens', async () => {
  const old = await leader();
  const others = members.filter((m) => m !== old);
  const poll = pollReads(others);
  const gate = access(old);
  await readyForRestart(gate);
  // leadership moved before anything stopped
  expect((await client(old).status()).leader).not.toBe((await client(old).status()).memberId);
  expect(others).toContain(await leader());
  await stop(old);
  start(old, 'existing');
  await rejoined(gate);
  const { reads, failures } = await poll.stop();
  expect(reads).toBeGreaterThan(20);
  // a read in flight at the hand-over itself is answered "leader changed", etcd's retryable error
  // (requestCurrentIndex returns ErrLeaderChanged when the leader changes under a ReadIndex): at
  // most one per member, at that instant. A leader stopped without the hand-over would fail reads
  // for a whole election instead, as timeouts.
  expect(failures.filter((f) => !f.includes('etcdserver: leader changed'))).toEqual([]);
  expect(failures.length).toBeLessThanOrEqual(others.length);
  // caught up: it serves linearizable reads and trails its leader by no more than the slack
  await client(old).linearizableRead();
  const [mine, lead] = [await client(old).status(), await client(await leader()).status()];
  expect(lead.raftIndex - mine.raftAppliedIndex).toBeLessThan(1000n);
});

test('a follower is not restarted while another member is down: the gate refuses, naming it; once that member is back, the gate opens', async () => {
  const lead = await leader();
  const [down, follower] = members.filter((m) => m !== lead);
  await stop(down!);
  await expect(readyForRestart(access(follower!), 4000)).rejects.toThrow(
    new RegExp(
      `${follower!.name}: etcd is not healthy, and stopping this member could cost the cluster its quorum: ${down!.name} https://127\\.0\\.0\\.1:\\d+: `,
    ),
  );
  start(down!, 'existing');
  await rejoined(access(down!));
  await readyForRestart(access(follower!));
});

test('the leader removed (reset of its control plane): it hands its leadership to a member that stays, not to one leaving later in the run, before it leaves, so no election follows; no read on the others fails but for the retryable "leader changed" at the hand-over', async () => {
  const old = await leader();
  const [leavingLater, staying] = members.filter((m) => m !== old);
  const oldId = (await client(old).status()).memberId;
  const stayingId = (await client(staying!).status()).memberId;
  const poll = pollReads([leavingLater!, staying!]);
  // as reset asks: through the member that stays, which may lead
  const gate: MemberAccess = { ...access(old), entry: client(staying!) };
  expect((await readyToStop(gate, oldId, (m) => m.id === stayingId))?.name).toBe(staying!.name);
  // the leader each of the others names, from the hand-over until the removed member is gone
  const named = new Set<string>();
  let watching = true;
  const watch = Promise.all(
    [leavingLater!, staying!].map(async (m) => {
      while (watching) named.add((await client(m).status()).leader);
    }),
  );
  await removeMember(gate, oldId);
  await new Promise((resolve) => old.process!.once('exit', resolve));
  watching = false;
  await watch;
  // no election after the removal: without the hand-over they name the old leader, then none
  expect([...named]).toEqual([stayingId]);
  const { reads, failures } = await poll.stop();
  expect(reads).toBeGreaterThan(20);
  expect(failures.filter((f) => !f.includes('etcdserver: leader changed'))).toEqual([]);
  expect(failures.length).toBeLessThanOrEqual(2);
  expect((await client(staying!).members()).map((m) => m.name).sort()).toEqual([leavingLater!.name, staying!.name].sort());
});
