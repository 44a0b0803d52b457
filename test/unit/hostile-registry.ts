/**
 * A hostile registry for the refusal tests: a loopback HTTP(S) server speaking just enough of
 * the registry API to answer what a test scripts (a 401 asking for Basic, a Bearer realm on
 * another origin, a manifest whose digests are paths, a blob longer than its size), recording
 * every request with its Authorization header, so a test asserts what it never received.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { testTlsFiles } from './test-tls.js';

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
}

export interface HostileRegistry {
  readonly url: string;
  /** host:port */
  readonly host: string;
  readonly requests: SeenRequest[];
  close(): Promise<void>;
}

export type Answer = (req: IncomingMessage, res: ServerResponse) => void;

export async function startHostileRegistry(answer: Answer, options: { tls?: boolean; address?: string } = {}): Promise<HostileRegistry> {
  const requests: SeenRequest[] = [];
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    requests.push({ method: req.method ?? '', path: req.url ?? '', authorization: req.headers.authorization });
    answer(req, res);
  };
  const tls = options.tls ? testTlsFiles(process.env.KUBESTRAP_TEST_TLS!) : undefined;
  const server: Server = tls
    ? createHttpsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, handle)
    : createServer(handle);
  const address = options.address ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  const host = `${address}:${(server.address() as AddressInfo).port}`;
  return {
    url: `${tls ? 'https' : 'http'}://${host}`,
    host,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A JSON answer with the registry's content type and digest headers as a test wants them. */
export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(bytes.length), ...headers }).end(bytes);
}
