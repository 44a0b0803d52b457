/**
 * The etcd members of a stacked control plane, through etcd's v3 JSON gateway (POST
 * /v3/cluster/member/*), authenticated with a client certificate of the etcd CA. Reached
 * through the SSH connection of a control plane (its loopback client port), like the API, or
 * directly from a joining control plane.
 */
import { request } from 'node:https';
import type { Host } from '../transport/host.js';

export const ETCD_CLIENT_PORT = 2379;
const PKI_DIR = '/etc/kubernetes/pki';

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

const member = (m: RawMember): EtcdMember => ({ id: m.ID ?? '', name: m.name ?? '', peerUrls: m.peerURLs ?? [], clientUrls: m.clientURLs ?? [] });

interface Endpoint {
  readonly host: string;
  readonly port: number;
  /** TLS name to check; undefined checks `host` itself (an IP address SAN). */
  readonly servername?: string;
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
    return new EtcdClient({ host: '127.0.0.1', port: forward.localPort, servername: 'localhost', close: () => forward.close() }, credentials);
  }

  /**
   * The local etcd of a control plane, with the API server's own etcd client certificate read
   * from the node; undefined when the node has none (not a stacked control plane, or reset).
   */
  static async onControlPlane(host: Host): Promise<EtcdClient | undefined> {
    const files = await host.readFiles([`${PKI_DIR}/etcd/ca.crt`, `${PKI_DIR}/apiserver-etcd-client.crt`, `${PKI_DIR}/apiserver-etcd-client.key`]);
    const [ca, cert, key] = [...files.values()].map((f) => f?.content.toString('utf8'));
    return ca && cert && key ? EtcdClient.open(host, { ca, cert, key }) : undefined;
  }

  /** A member's client URL (https://ip:2379), from a node of the cluster. */
  static direct(clientUrl: string, credentials: EtcdCredentials): EtcdClient {
    const url = new URL(clientUrl);
    return new EtcdClient({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || ETCD_CLIENT_PORT), close: async () => undefined }, credentials);
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
          ...(this.endpoint.servername ? { servername: this.endpoint.servername } : {}),
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
      req.on('error', reject);
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

  async removeMember(id: string): Promise<void> {
    await this.call('/v3/cluster/member/remove', { ID: id });
  }

  close(): Promise<void> {
    return this.endpoint.close();
  }
}
