/**
 * SSH channel with ssh2: one connection per host, reused for every command, with keepalives,
 * a connect timeout, verified host keys and an optional jump host.
 */
import { createServer, type Socket } from 'node:net';
import { Readable, type Duplex } from 'node:stream';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import type { Channel, PortForward } from './host.js';
import type { HostKeyVerdict } from './host-keys.js';
import { quote } from './quote.js';
import { messageOf } from '../util/errors.js';

export interface Credentials {
  readonly privateKey?: Buffer;
  readonly passphrase?: string;
  /** Path of the ssh-agent socket. */
  readonly agent?: string;
  readonly password?: string;
}

export interface SshEndpoint {
  /** Inventory name, for messages. */
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly user: string;
  readonly credentials: Credentials;
  readonly pinnedHostKey?: string | undefined;
  /** The name known_hosts knows the key by instead of the address (HostKeyAlias). */
  readonly hostKeyAlias?: string;
  /** known_hosts files for this host instead of the run's one (UserKnownHostsFile): read all, new keys go to the first. */
  readonly knownHostsFiles?: readonly string[];
}

/** Decides whether a presented host key is trusted (known_hosts and pins, or an operator's answer). */
export interface HostKeyTarget {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly pinned?: string | undefined;
  readonly hostKeyAlias?: string | undefined;
  readonly knownHostsFiles?: readonly string[] | undefined;
}

export interface HostKeyVerifier {
  verify(target: HostKeyTarget, keyBlob: Buffer): Promise<HostKeyVerdict>;
}

export interface SshOptions {
  readonly hostKeys: HostKeyVerifier;
  readonly connectTimeoutMs: number;
  /** Jump hosts in order, the first reached directly (`ssh -J a,b`). */
  readonly jumps?: readonly SshEndpoint[];
}

/**
 * OpenSSH's default MaxSessions is 10, and sshd frees a session slot a moment after the channel
 * closes; stay well below it. Hardened servers allow fewer, so a refused channel is retried.
 */
const MAX_SESSIONS_PER_CONNECTION = 5;
const CHANNEL_OPEN_RETRIES = 20;
const KEEPALIVE_INTERVAL_MS = 15_000;
const KEEPALIVE_COUNT_MAX = 4;

export class SshConnectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SshConnectError';
  }
}

function explain(
  endpoint: SshEndpoint,
  err: Error & { level?: string; code?: string },
  hostKeyRefusal: string | undefined,
  timeoutMs: number,
): string {
  const who = `${endpoint.name} (${endpoint.user}@${endpoint.address}:${endpoint.port})`;
  if (hostKeyRefusal) return hostKeyRefusal;
  if (err.level === 'client-authentication') {
    return `${who}: authentication failed — the server accepted none of the configured methods (${methods(endpoint.credentials)})`;
  }
  if (err.code === 'ECONNREFUSED') return `${who}: connection refused — is sshd running and listening on port ${endpoint.port}?`;
  if (err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH') return `${who}: host unreachable (${err.code})`;
  if (err.code === 'ENOTFOUND') return `${who}: cannot resolve ${endpoint.address}`;
  if (err.level === 'client-timeout' || /Timed out/i.test(err.message))
    return `${who}: no SSH answer within ${Math.round(timeoutMs / 1000)} s (host down or port filtered?)`;
  return `${who}: ${err.message}`;
}

function methods(c: Credentials): string {
  return (
    [c.privateKey && 'private key', c.agent && 'ssh-agent', c.password !== undefined && 'password'].filter(Boolean).join(', ') || 'none'
  );
}

function connectClient(endpoint: SshEndpoint, options: SshOptions, sock?: Duplex): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let hostKeyRefusal: string | undefined;
    const config: ConnectConfig = {
      host: endpoint.address,
      port: endpoint.port,
      username: endpoint.user,
      readyTimeout: options.connectTimeoutMs,
      keepaliveInterval: KEEPALIVE_INTERVAL_MS,
      keepaliveCountMax: KEEPALIVE_COUNT_MAX,
      hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
        options.hostKeys
          .verify(
            {
              name: endpoint.name,
              address: endpoint.address,
              port: endpoint.port,
              pinned: endpoint.pinnedHostKey,
              hostKeyAlias: endpoint.hostKeyAlias,
              knownHostsFiles: endpoint.knownHostsFiles,
            },
            key,
          )
          .then(
            (verdict) => {
              if (!verdict.ok) hostKeyRefusal = verdict.reason;
              verify(verdict.ok);
            },
            (err: unknown) => {
              hostKeyRefusal = `${endpoint.name}: cannot check host key: ${messageOf(err)}`;
              verify(false);
            },
          );
      },
      ...(sock ? { sock: sock } : {}),
      ...(endpoint.credentials.privateKey ? { privateKey: endpoint.credentials.privateKey } : {}),
      ...(endpoint.credentials.passphrase !== undefined ? { passphrase: endpoint.credentials.passphrase } : {}),
      ...(endpoint.credentials.agent ? { agent: endpoint.credentials.agent } : {}),
      ...(endpoint.credentials.password !== undefined ? { password: endpoint.credentials.password } : {}),
    };
    let settled = false;
    client.once('ready', () => {
      settled = true;
      resolve(client);
    });
    // kept for the connection's whole life: a dropped connection (reboot, network) must not
    // crash the process; the commands in flight fail on their own
    client.on('error', (err) => {
      client.end();
      if (settled) return;
      settled = true;
      reject(new SshConnectError(explain(endpoint, err, hostKeyRefusal, options.connectTimeoutMs)));
    });
    try {
      client.connect(config);
    } catch (err) {
      reject(new SshConnectError(`${endpoint.name}: ${(err as Error).message}`));
    }
  });
}

/** sshd refused a new channel on this connection (too many sessions); worth retrying. */
class ChannelRefused extends Error {}

/** A counting semaphore for the sessions of one connection. */
class Sessions {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  async acquire(): Promise<void> {
    if (this.active < MAX_SESSIONS_PER_CONNECTION) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}

interface Connection {
  readonly client: Client;
  /** The jump hosts' connections, closed with the host's. */
  readonly jumps: readonly Client[];
}

/** What ssh2 says when a session cannot start because the connection itself is gone. */
const CONNECTION_GONE = /No response from server|Not connected|ECONNRESET|EPIPE|socket|closed/i;

class SshChannel implements Channel {
  private readonly sessions = new Sessions();
  private client: Client;
  private jumps: readonly Client[];

  constructor(
    connection: Connection,
    private readonly name: string,
    private readonly open: () => Promise<Connection>,
  ) {
    this.client = connection.client;
    this.jumps = connection.jumps;
  }

  async reconnect(timeoutMs: number): Promise<void> {
    await this.close();
    const deadline = Date.now() + timeoutMs;
    let last: Error | undefined;
    while (Date.now() < deadline) {
      try {
        ({ client: this.client, jumps: this.jumps } = await this.open());
        return;
      } catch (err) {
        last = err as Error;
        await new Promise((r) => setTimeout(r, 3000));
      }
    }
    throw new Error(`${this.name}: did not come back within ${Math.round(timeoutMs / 1000)} s${last ? ` (${last.message})` : ''}`);
  }

  async run(script: string, opts: { stdin?: Buffer | Readable; timeoutMs?: number }) {
    await this.sessions.acquire();
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.runSession(script, opts);
        } catch (err) {
          if (!(err instanceof ChannelRefused) || attempt >= CHANNEL_OPEN_RETRIES) throw err;
          await new Promise((r) => setTimeout(r, 25 * attempt));
        }
      }
    } finally {
      this.sessions.release();
    }
  }

  private runSession(
    script: string,
    opts: { stdin?: Buffer | Readable; timeoutMs?: number },
  ): Promise<{ stdout: Buffer; stderr: Buffer; code: number }> {
    // a session that ends with no exit status, or cannot start on a dead connection, is the connection's failure, not the command's
    const lost = (detail: string) =>
      new Error(`${this.name}: the SSH connection was lost (${detail}); the command's outcome on the host is unknown`);
    return new Promise((resolve, reject) => {
      const start = (callback: (err: Error | undefined, stream: ClientChannel) => void) => {
        try {
          // The login shell may be anything; sh -c pins the dialect our quoting targets.
          this.client.exec(`sh -c ${quote(script)}`, callback);
        } catch (err) {
          reject(lost((err as Error).message));
        }
      };
      start((err, stream: ClientChannel) => {
        if (err) {
          if (/open failed/.test(err.message)) {
            reject(new ChannelRefused(`${this.name}: the server refused another session (MaxSessions): ${err.message}`));
            return;
          }
          reject(CONNECTION_GONE.test(err.message) ? lost(err.message) : new Error(`${this.name}: cannot start a command: ${err.message}`));
          return;
        }
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let timedOut = false;
        const timer = opts.timeoutMs
          ? setTimeout(() => {
              timedOut = true;
              stream.signal('KILL');
              stream.close();
            }, opts.timeoutMs)
          : undefined;
        stream.on('data', (d: Buffer) => out.push(d));
        stream.stderr.on('data', (d: Buffer) => errOut.push(d));
        stream.on('close', (code: number | null | undefined, signal?: string) => {
          if (timer) clearTimeout(timer);
          if (timedOut) {
            reject(new Error(`${this.name}: command timed out after ${opts.timeoutMs} ms`));
            return;
          }
          if (code == null && !signal) {
            reject(lost('the session ended without an exit status'));
            return;
          }
          const stderr = Buffer.concat(errOut);
          resolve({
            stdout: Buffer.concat(out),
            stderr: signal ? Buffer.concat([stderr, Buffer.from(`\n(killed by signal ${signal})`)]) : stderr,
            code: code ?? 255,
          });
        });
        if (opts.stdin instanceof Readable) {
          // a stream that fails (a file read error) ends the session's input early: the remote side sees a short upload and says so
          opts.stdin.on('error', () => stream.end());
          opts.stdin.pipe(stream);
        } else if (opts.stdin) stream.end(opts.stdin);
        else stream.end();
      });
    });
  }

  forward(remotePort: number, remoteAddress = '127.0.0.1'): Promise<PortForward> {
    const sockets = new Set<Socket>();
    let lastFailure: string | undefined;
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      this.client.forwardOut('127.0.0.1', 0, remoteAddress, remotePort, (err, stream) => {
        if (err) {
          lastFailure = `no connection to ${remoteAddress}:${remotePort} from the host: ${err.message}`;
          socket.destroy();
          return;
        }
        socket.pipe(stream).pipe(socket);
        stream.on('error', () => socket.destroy());
        socket.on('error', () => {
          stream.close();
        });
      });
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        const localPort = typeof address === 'object' && address ? address.port : 0;
        resolve({
          address: '127.0.0.1',
          localPort,
          lastFailure: () => lastFailure,
          close: () =>
            new Promise<void>((done) => {
              for (const s of sockets) s.destroy();
              server.close(() => {
                done();
              });
            }),
        });
      });
    });
  }

  async close(): Promise<void> {
    this.client.end();
    for (const jump of this.jumps) jump.end();
  }
}

/** A TCP stream to the next hop, opened by the hop before it (what `ssh -J` does with direct-tcpip). */
function forwardThrough(jump: Client, jumpName: string, next: SshEndpoint, forHost: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) =>
    jump.forwardOut('127.0.0.1', 0, next.address, next.port, (err, s) => {
      if (err) reject(new SshConnectError(`${forHost}: jump host ${jumpName} cannot reach ${next.address}:${next.port}: ${err.message}`));
      else resolve(s);
    }),
  );
}

/** Connects through each jump host in turn, then to the host; every hop's key is verified like the host's. */
async function connect(endpoint: SshEndpoint, options: SshOptions): Promise<Connection> {
  const hops = [...(options.jumps ?? []), endpoint];
  const opened: Client[] = [];
  try {
    for (const [i, hop] of hops.entries()) {
      const previous = opened[i - 1];
      const sock = previous ? await forwardThrough(previous, hops[i - 1]!.name, hop, endpoint.name) : undefined;
      opened.push(await connectClient(hop, options, sock));
    }
    return { client: opened.at(-1)!, jumps: opened.slice(0, -1) };
  } catch (err) {
    for (const client of opened) client.end();
    throw err;
  }
}

export async function openSsh(endpoint: SshEndpoint, options: SshOptions): Promise<Channel> {
  const open = () => connect(endpoint, options);
  return new SshChannel(await open(), endpoint.name, open);
}
