/**
 * Token discovery against a FAKE API server (a local Node https server with a self-signed
 * certificate serving cluster-info; real TLS, real openssl key) built from kubeadm-spec's
 * vector (b): the dry-run cluster-info, its JWS for token abcdef.abcdef0123456789 and its CA pin.
 * The success path needs the cluster CA's key, which the vector does not give: it is proven on
 * the real cluster (test/e2e/node-join.test.ts); here every refusal gets its message.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { discoverWithToken, endpointServer, JoinError } from '../../src/join/discovery.js';
import { parseToken } from '../../src/pki/bootstrap-token.js';
import { selfSignedCertificate } from './openssl.js';
import { tempDir } from '../lab/helpers.js';

const TESTDATA = join(__dirname, '..', 'fixtures', 'kubeadm');
const KUBECONFIG = readFileSync(join(TESTDATA, 'dryrun-cluster-info-kubeconfig.yaml'), 'utf8');
const JWS = 'eyJhbGciOiJIUzI1NiIsImtpZCI6ImFiY2RlZiJ9..rh3cVKiU2mdt3CqHzC81sNE-4WQLRHMtXduHWfSbrIM';
const PIN = 'sha256:3b793efefe27a19f93b0fbe6e637e9c41d0dde8a377d6ab1c0f656bf1136dd8a';
const TOKEN = parseToken('abcdef.abcdef0123456789');

const dir = tempDir('discovery');
selfSignedCertificate({ key: join(dir, 'key.pem'), cert: join(dir, 'cert.pem'), subject: '/CN=fake-apiserver', days: 1 });

let server: Server | undefined;
afterEach(() => server?.close());

/** Serves cluster-info with these data keys (and this Date header); returns host:port. */
async function fakeApiServer(data: Record<string, string>, date?: Date): Promise<string> {
  server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
    if (req.url !== '/api/v1/namespaces/kube-public/configmaps/cluster-info') return res.writeHead(404).end('{}');
    res
      .writeHead(200, { 'content-type': 'application/json', ...(date ? { date: date.toUTCString() } : {}) })
      .end(JSON.stringify({ kind: 'ConfigMap', data }));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

const fast = { timeoutMs: 1500, retryMs: 500 };
const failure = (p: Promise<unknown>) =>
  p.then(
    () => new Error('discovery succeeded'),
    (e: Error) => e,
  );

describe('token discovery refusals (FAKE API server serving kubeadm-spec vector (b))', () => {
  it('a CA hash that does not match: both hashes in the message, the real one computed from the served CA', async () => {
    const endpoint = await fakeApiServer({ kubeconfig: KUBECONFIG, 'jws-kubeconfig-abcdef': JWS });
    const wrong = `sha256:${'0'.repeat(64)}`;
    const err = await failure(discoverWithToken(endpoint, TOKEN, [wrong], fast));
    expect(err).toBeInstanceOf(JoinError);
    expect(err.message).toContain(`presents a CA whose public key hash is ${PIN}, but the command expects ${wrong}`);
  });

  it('the right hash, but the server is not the one the CA signed (cluster-info relayed by another server): the verified re-fetch refuses it', async () => {
    const endpoint = await fakeApiServer({ kubeconfig: KUBECONFIG, 'jws-kubeconfig-abcdef': JWS });
    const err = await failure(discoverWithToken(endpoint, TOKEN, [PIN], fast));
    expect(err.message).toContain('presents a certificate not signed by the cluster CA');
  });

  it('a kubeconfig altered by one byte: the JWS does not verify, and the message says what that can mean', async () => {
    const endpoint = await fakeApiServer({
      kubeconfig: KUBECONFIG.replace('192.168.0.101', '192.168.0.102'),
      'jws-kubeconfig-abcdef': JWS,
    });
    const err = await failure(discoverWithToken(endpoint, TOKEN, [PIN], fast));
    expect(err.message).toMatch(/is not signed by token "abcdef".*mistyped.*altered the answer/s);
  });

  it('a token secret that differs (same id): refused the same way', async () => {
    const endpoint = await fakeApiServer({ kubeconfig: KUBECONFIG, 'jws-kubeconfig-abcdef': JWS });
    const err = await failure(discoverWithToken(endpoint, parseToken('abcdef.0000000000000000'), [PIN], fast));
    expect(err.message).toContain('is not signed by token "abcdef"');
  });

  it('no signature for the token (expired or deleted): retried until the timeout, then the way out is named', async () => {
    const endpoint = await fakeApiServer({ kubeconfig: KUBECONFIG, 'jws-kubeconfig-zzzzzz': JWS });
    const err = await failure(discoverWithToken(endpoint, TOKEN, [PIN], fast));
    expect(err.message).toContain('the cluster does not know token "abcdef": it has expired or was deleted');
    expect(err.message).toContain('kubestrap token create --print-join-command');
    expect(err.message).not.toContain('abcdef0123456789');
  });

  it("a clock 2 h off the API server's (its Date header): refused before anything else, with both times", async () => {
    const endpoint = await fakeApiServer({ kubeconfig: KUBECONFIG, 'jws-kubeconfig-abcdef': JWS }, new Date(Date.now() - 2 * 3600_000));
    const err = await failure(discoverWithToken(endpoint, TOKEN, [PIN], fast));
    expect(err.message).toMatch(
      /this node's clock \(\S+\) is 2 h ahead of the API server's at https:\/\/127\.0\.0\.1:\d+ \(\S+\).*time sync/,
    );
  });

  it('an endpoint where nothing listens: connection refused, after retrying within the timeout', async () => {
    const endpoint = await fakeApiServer({});
    server!.close();
    const err = await failure(discoverWithToken(endpoint, TOKEN, [PIN], fast));
    expect(err.message).toContain(`cannot reach the API server at https://${endpoint}: connection refused`);
  });

  it('an endpoint without a port is a usage problem', () => {
    expect(() => endpointServer('10.0.0.10')).toThrow(/has no port: write host:port/);
    expect(endpointServer('10.0.0.10:6443')).toBe('https://10.0.0.10:6443');
  });
});

it('L2: of a CA bundle only the pinned certificates are kept for everything after discovery', async () => {
  const { readFileSync: read } = await import('node:fs');
  const { caPin, pinMatches, pinnedCertificates } = await import('../../src/pki/ca-pin.js');
  const dir = tempDir('pin');
  const ca = (name: string) => {
    selfSignedCertificate({
      keyType: 'ec',
      key: join(dir, `${name}.key`),
      cert: join(dir, `${name}.crt`),
      subject: `/CN=${name}`,
      days: 1,
    });
    return read(join(dir, `${name}.crt`), 'utf8');
  };
  const [real, rogue] = [ca('kubernetes'), ca('rogue')];
  const bundle = `${real}${rogue}`;
  expect(pinMatches(bundle, [caPin(real)])).toBe(true);
  expect(pinnedCertificates(bundle, [caPin(real)])).toBe(real);
  expect(pinnedCertificates(`${rogue}${real}`, [caPin(real)])).toBe(real);
  expect(pinMatches(rogue, [caPin(real)])).toBe(false);
});
