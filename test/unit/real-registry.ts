/**
 * A real Distribution registry (Debian's docker-registry 2.8) for tests, on a loopback port,
 * behind real token authentication: the registry trusts a certificate made here with openssl,
 * and a small token service (this module's, the one part that stands in for Docker Hub's
 * auth.docker.io) signs JWTs with its key: pull for anyone, push for the user `pusher`.
 * Images are loaded with skopeo, so what the tests read was written by independent tools.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import { freePort } from './real-etcd.js';
import { testTlsFiles } from './test-tls.js';
import { selfSignedCertificate } from './openssl.js';

export const PUSHER = { username: 'pusher', password: 'pusher-secret' };
const SERVICE = 'kubestrap-test-registry';
const ISSUER = 'kubestrap-test-token-service';

export interface RealRegistry {
  /** host:port, as an image reference's registry part. */
  readonly address: string;
  readonly url: string;
  /** Where the registry keeps blobs (docker/registry/v2/blobs/sha256/xx/<hex>/data). */
  readonly storage: string;
  /** Scopes the token service was asked for, in order. */
  readonly tokenRequests: string[];
  /** A push-capable Authorization header for `repository`. */
  pushAuthorization(repository: string): string;
  stop(): Promise<void>;
}

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** `tls`: the registry and its token service over https, with the test run's CA (test-tls.ts); plain http otherwise. */
export async function startRegistry(dir: string, options: { anonymousPull?: boolean; tls?: boolean } = {}): Promise<RealRegistry> {
  mkdirSync(dir, { recursive: true });
  const keyFile = join(dir, 'token.key');
  const certFile = join(dir, 'token.crt');
  selfSignedCertificate({ key: keyFile, cert: certFile, subject: '/CN=kubestrap-test-token-service', days: 1 });
  const key = createPrivateKey(readFileSync(keyFile));
  const certDer = readFileSync(certFile, 'utf8').replace(/-----[^-]+-----|\s/g, '');
  const issue = (access: Array<{ type: string; name: string; actions: string[] }>) => {
    const now = Math.floor(Date.now() / 1000);
    const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', x5c: [certDer] }));
    const claims = base64url(
      JSON.stringify({
        iss: ISSUER,
        sub: '',
        aud: SERVICE,
        exp: now + 600,
        nbf: now - 10,
        iat: now,
        jti: randomBytes(8).toString('hex'),
        access,
      }),
    );
    return `${header}.${claims}.${base64url(sign('sha256', Buffer.from(`${header}.${claims}`), key))}`;
  };
  const tokenRequests: string[] = [];
  const tls = options.tls ? testTlsFiles(process.env.KUBESTRAP_TEST_TLS!) : undefined;
  const answer = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url!, 'http://token');
    const scopes = url.searchParams.getAll('scope');
    tokenRequests.push(...scopes);
    const auth = req.headers.authorization;
    const pusher = auth === `Basic ${Buffer.from(`${PUSHER.username}:${PUSHER.password}`).toString('base64')}`;
    if (auth && !pusher) {
      res.writeHead(401).end();
      return;
    }
    const access = scopes.map((scope) => {
      const [type, name, actions] = scope.split(':');
      const allowed = (actions ?? '').split(',').filter((a) => (a === 'pull' ? pusher || options.anonymousPull !== false : pusher));
      return { type: type!, name: name!, actions: allowed };
    });
    const token = issue(access);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 600 }));
  };
  const tokenServer: Server = tls
    ? createHttpsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, answer)
    : createServer(answer);
  const tokenPort = await freePort();
  const scheme = tls ? 'https' : 'http';
  await new Promise<void>((resolve) => tokenServer.listen(tokenPort, '127.0.0.1', resolve));
  const port = await freePort();
  const storage = join(dir, 'storage');
  writeFileSync(
    join(dir, 'config.yml'),
    [
      'version: 0.1',
      'log: {level: warn}',
      `storage: {filesystem: {rootdirectory: ${storage}}, delete: {enabled: true}}`,
      `http: {addr: "127.0.0.1:${port}"${tls ? `, tls: {certificate: ${tls.cert}, key: ${tls.key}}` : ''}}`,
      `auth: {token: {realm: "${scheme}://127.0.0.1:${tokenPort}/token", service: ${SERVICE}, issuer: ${ISSUER}, rootcertbundle: ${certFile}}}`,
      '',
    ].join('\n'),
  );
  const registry: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  registry.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `${scheme}://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const up = await fetch(`${url}/v2/`).then(
      (r) => r.status === 401,
      () => false,
    );
    if (up) break;
    if (i > 100 || registry.exitCode !== null) throw new Error(`docker-registry did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    address: `127.0.0.1:${port}`,
    url,
    storage,
    tokenRequests,
    pushAuthorization: (repository) => `Bearer ${issue([{ type: 'repository', name: repository, actions: ['pull', 'push'] }])}`,
    async stop() {
      registry.kill();
      await new Promise<void>((resolve) => tokenServer.close(() => resolve()));
    },
  };
}

/** Pushes a docker-archive tarball (what build-images.sh and `docker save` write) with skopeo (asynchronously: the token service answers it from this process). */
export async function pushArchive(registry: RealRegistry, archive: string, reference: string): Promise<void> {
  await promisify(execFile)('skopeo', [
    '--insecure-policy',
    'copy',
    '-q',
    '--dest-tls-verify=false',
    '--dest-creds',
    `${PUSHER.username}:${PUSHER.password}`,
    `docker-archive:${archive}`,
    `docker://${registry.address}/${reference}`,
  ]);
}

/** A one-layer docker-archive image for `architecture` whose layer holds `payload` as /payload. */
export function testImageArchive(dir: string, name: string, architecture: string, payload: Buffer): string {
  return imageArchive(dir, `${name}-${architecture}`, { architecture, files: { payload } });
}

/**
 * The Distribution registry (Debian's docker-registry binary and the libraries it loads) as a
 * one-layer image, for the site registry of the e2e lab: what docker.io/library/registry is
 * elsewhere, with the same configuration path.
 */
export function registryImageArchive(dir: string): string {
  const files: Record<string, Buffer> = {
    'usr/bin/docker-registry': readFileSync('/usr/bin/docker-registry'),
    'etc/passwd': Buffer.from('root:x:0:0:root:/root:/bin/sh\n'),
  };
  const libraries = execFileSync('ldd', ['/usr/bin/docker-registry'], { encoding: 'utf8' }).match(/\/\S+/g) ?? [];
  for (const lib of libraries) files[lib.slice(1)] = readFileSync(lib);
  return imageArchive(dir, 'registry', {
    architecture: 'amd64',
    files,
    entrypoint: ['/usr/bin/docker-registry', 'serve', '/etc/docker/registry/config.yml'],
  });
}

function imageArchive(
  dir: string,
  name: string,
  image: { architecture: string; files: Record<string, Buffer>; entrypoint?: string[] },
): string {
  const box = join(dir, `${name}.box`);
  for (const [path, content] of Object.entries(image.files)) {
    mkdirSync(join(box, 'root', path, '..'), { recursive: true });
    writeFileSync(join(box, 'root', path), content, { mode: 0o755 });
  }
  execFileSync('tar', [
    '--numeric-owner',
    '--owner=0',
    '--group=0',
    '--mtime=@0',
    '-C',
    join(box, 'root'),
    '-cf',
    join(box, 'layer.tar'),
    '.',
  ]);
  const diff = execFileSync('sha256sum', [join(box, 'layer.tar')], { encoding: 'utf8' }).split(' ')[0];
  writeFileSync(
    join(box, 'config.json'),
    JSON.stringify({
      architecture: image.architecture,
      os: 'linux',
      config: image.entrypoint ? { Entrypoint: image.entrypoint } : {},
      rootfs: { type: 'layers', diff_ids: [`sha256:${diff}`] },
    }),
  );
  writeFileSync(
    join(box, 'manifest.json'),
    JSON.stringify([{ Config: 'config.json', RepoTags: [`${name}:latest`], Layers: ['layer.tar'] }]),
  );
  const archive = join(dir, `${name}.tar`);
  execFileSync('tar', ['-C', box, '-cf', archive, 'config.json', 'manifest.json', 'layer.tar']);
  return archive;
}

/** Puts a Docker manifest list under `repository:tag` naming the already pushed per-architecture tags. */
export async function pushManifestList(
  registry: RealRegistry,
  repository: string,
  tag: string,
  architectures: Record<string, string>,
): Promise<string> {
  const auth = registry.pushAuthorization(repository);
  const manifests = [];
  for (const [architecture, sourceTag] of Object.entries(architectures)) {
    const res = await fetch(`${registry.url}/v2/${repository}/manifests/${sourceTag}`, {
      headers: { authorization: auth, accept: 'application/vnd.docker.distribution.manifest.v2+json' },
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    manifests.push({
      mediaType: res.headers.get('content-type'),
      digest: res.headers.get('docker-content-digest'),
      size: bytes.length,
      platform: { os: 'linux', architecture },
    });
  }
  const list = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json', manifests });
  const put = await fetch(`${registry.url}/v2/${repository}/manifests/${tag}`, {
    method: 'PUT',
    headers: { authorization: auth, 'content-type': 'application/vnd.docker.distribution.manifest.list.v2+json' },
    body: list,
  });
  if (put.status !== 201) throw new Error(`manifest list push: HTTP ${put.status} ${await put.text()}`);
  return put.headers.get('docker-content-digest')!;
}
