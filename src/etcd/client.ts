/**
 * The etcd members of a stacked control plane, through etcd's v3 JSON gateway (POST
 * /v3/cluster/member/*), authenticated with a client certificate of the etcd CA. Reached
 * through the SSH connection of a control plane (its loopback client port), like the API, or
 * directly from a joining control plane.
 */
import { request } from 'node:https';
import { checkServerIdentity } from 'node:tls';
import type { Host } from '../transport/host.js';
import { PKI_DIR } from '../../templates/paths.js';

export const ETCD_CLIENT_PORT = 2379;

export interface EtcdMember {
  readonly id: string;
  /** Empty for a member added but not started yet. */
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
}

export interface EtcdCredentials {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

interface RawMember {
  ID?: string;
  name?: string;
  peerURLs?: string[];
  clientURLs?: string[];
}

const member = (m: RawMember): EtcdMember => ({
  id: m.ID ?? '',
  name: m.name ?? '',
  peerUrls: m.peerURLs ?? [],
  clientUrls: m.clientURLs ?? [],
});

/** What a member says about itself and its cluster (etcd's maintenance status). */
export interface EtcdStatus {
  readonly memberId: string;
  /** The leader's member ID; "0" while the member knows no leader. */
  readonly leader: string;
  /** The last entry of the member's raft log, and the last it has applied. */
  readonly raftIndex: bigint;
  readonly raftAppliedIndex: bigint;
  /** Alarms and other errors the member reports (e.g. NOSPACE). */
  readonly errors: readonly string[];
}

interface Endpoint {
  readonly host: string;
  readonly port: number;
  /** The name (or IP address) the member's serving certificate must carry. */
  readonly identity: string;
  /** Why a tunnelled connection did not reach the member, when it did not. */
  readonly failure?: () => string | undefined;
  close(): Promise<void>;
}

export class EtcdClient {
  private constructor(
    private readonly endpoint: Endpoint,
    private readonly credentials: EtcdCredentials,
  ) {}

  /** etcd on `host` (a control plane), through its SSH connection. */
  static async open(host: Host, credentials: EtcdCredentials): Promise<EtcdClient> {
    const forward = await host.forward(ETCD_CLIENT_PORT);
    // etcd's serving certificate names localhost, not the forwarded port's address
    return new EtcdClient(
      { host: forward.address, port: forward.localPort, identity: 'localhost', close: () => forward.close() },
      credentials,
    );
  }

  /** Another member (its client URL, https://ip:2379), reached through the SSH connection of `host`. */
  static async via(host: Host, clientUrl: string, credentials: EtcdCredentials): Promise<EtcdClient> {
    const { address, port } = memberAddress(clientUrl);
    const forward = await host.forward(port, address);
    return new EtcdClient(
      {
        host: forward.address,
        port: forward.localPort,
        identity: address,
        ...(forward.lastFailure ? { failure: forward.lastFailure } : {}),
        close: () => forward.close(),
      },
      credentials,
    );
  }

  /**
   * The local etcd of a control plane, with the API server's own etcd client certificate read
   * from the node; undefined when the node has none (not a stacked control plane, or reset).
   */
  static async onControlPlane(host: Host): Promise<EtcdClient | undefined> {
    const credentials = await controlPlaneCredentials(host);
    return credentials && EtcdClient.open(host, credentials);
  }

  /** A member's client URL (https://ip:2379), from a node of the cluster. */
  static direct(clientUrl: string, credentials: EtcdCredentials): EtcdClient {
    const { address, port } = memberAddress(clientUrl);
    return new EtcdClient({ host: address, port, identity: address, close: async () => undefined }, credentials);
  }

  private call(path: string, body: unknown): Promise<unknown> {
    return this.post(path, body).then((text) => JSON.parse(text) as unknown);
  }

  private async post(path: string, body: unknown, timeoutMs = 15_000): Promise<string> {
    const lines: string[] = [];
    await this.postLines(path, body, timeoutMs, (line) => lines.push(line));
    return lines.join('\n');
  }

  /** POSTs and hands over the answer line by line as it arrives (the snapshot stream can be gigabytes: never held whole). */
  private postLines(path: string, body: unknown, timeoutMs: number, onLine: (line: string) => void): Promise<void> {
    const payload = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: this.endpoint.host,
          port: this.endpoint.port,
          checkServerIdentity: (_host, cert) => checkServerIdentity(this.endpoint.identity, cert),
          method: 'POST',
          path,
          ...this.credentials,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
          timeout: timeoutMs,
        },
        (res) => {
          const failed = (res.statusCode ?? 0) >= 300;
          let pending = '';
          let error = '';
          const take = (line: string) => {
            if (failed) error += line.slice(0, 300 - error.length);
            else {
              try {
                onLine(line);
              } catch (err) {
                req.destroy(err as Error);
              }
            }
          };
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            const parts = (pending + chunk).split('\n');
            pending = parts.pop()!;
            parts.forEach(take);
          });
          res.on('end', () => {
            if (pending) take(pending);
            if (failed) reject(new Error(`etcd ${path}: HTTP ${res.statusCode} ${error.trim()}`));
            else resolve();
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`etcd ${path} timed out`)));
      // a tunnel whose far end refused shows here only as a hang-up: say what the tunnel saw
      req.on('error', (err) => {
        reject(this.endpoint.failure?.() ? new Error(this.endpoint.failure()) : err);
      });
      req.end(payload);
    });
  }

  async members(): Promise<EtcdMember[]> {
    const answer = (await this.call('/v3/cluster/member/list', {})) as { members?: RawMember[] };
    return (answer.members ?? []).map(member);
  }

  /** Adds a member by its peer URL; returns the members afterwards (the new one without a name). */
  async addMember(peerUrl: string): Promise<EtcdMember[]> {
    const answer = (await this.call('/v3/cluster/member/add', { peerURLs: [peerUrl] })) as { members?: RawMember[] };
    return (answer.members ?? []).map(member);
  }

  /**
   * A snapshot of the member's database (what `etcdctl snapshot save` writes, its integrity hash
   * appended by etcd): the gateway streams it as JSON messages, one base64 blob each, handed to
   * `write` as they come (audit L10: a database of any size). Resolves to the bytes written.
   */
  async snapshot(write: (blob: Buffer) => void): Promise<number> {
    let bytes = 0;
    await this.postLines('/v3/maintenance/snapshot', {}, 600_000, (line) => {
      if (!line.trim()) return;
      const message = JSON.parse(line) as { result?: { blob?: string }; error?: { message?: string } };
      if (message.error) throw new Error(`etcd snapshot: ${message.error.message ?? JSON.stringify(message.error)}`);
      const blob = Buffer.from(message.result?.blob ?? '', 'base64');
      bytes += blob.length;
      write(blob);
    });
    return bytes;
  }

  async status(): Promise<EtcdStatus> {
    const answer = (await this.call('/v3/maintenance/status', {})) as {
      header?: { member_id?: string };
      leader?: string;
      raftIndex?: string;
      raftAppliedIndex?: string;
      errors?: string[];
    };
    return {
      memberId: answer.header?.member_id ?? '',
      leader: answer.leader ?? '0',
      raftIndex: BigInt(answer.raftIndex ?? 0),
      raftAppliedIndex: BigInt(answer.raftAppliedIndex ?? 0),
      errors: answer.errors ?? [],
    };
  }

  /**
   * A linearizable read through this member (what `etcdctl endpoint health` and the API server's
   * etcd check do): it answers only while a leader with a quorum confirms the member's view.
   */
  async linearizableRead(): Promise<void> {
    await this.post('/v3/kv/range', { key: Buffer.from('health').toString('base64') }, 5000);
  }

  /** Hands the leadership to `memberId`; only the leader accepts this. */
  async moveLeader(memberId: string): Promise<void> {
    await this.call('/v3/maintenance/transfer-leadership', { targetID: memberId });
  }

  async removeMember(id: string): Promise<void> {
    await this.call('/v3/cluster/member/remove', { ID: id });
  }

  close(): Promise<void> {
    return this.endpoint.close();
  }
}

/** The address and port of a member's client URL (IPv6 without its brackets). */
function memberAddress(clientUrl: string): { address: string; port: number } {
  const url = new URL(clientUrl);
  return { address: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || ETCD_CLIENT_PORT) };
}

/** The API server's etcd client certificate on a control plane; undefined when the node has none. */
export async function controlPlaneCredentials(host: Host): Promise<EtcdCredentials | undefined> {
  const files = await host.readFiles([
    `${PKI_DIR}/etcd/ca.crt`,
    `${PKI_DIR}/apiserver-etcd-client.crt`,
    `${PKI_DIR}/apiserver-etcd-client.key`,
  ]);
  const [ca, cert, key] = [...files.values()].map((f) => f?.content.toString('utf8'));
  return ca && cert && key ? { ca, cert, key } : undefined;
}
