/**
 * The second security review's findings on air-gap bundles and registries (security-audit-r2),
 * each as the hostile input reaching kubestrap's public path (the CLI), with the refusal and
 * what was not written, read or sent. Bundles are made by hand (crafted-bundle.ts); registries
 * are a hostile test server on loopback (hostile-registry.ts) or the real Distribution registry.
 * The operator's workstation is a scratch HOME with a FAKE private key in ~/.ssh; the inventory's
 * hosts are a closed port on loopback, so a bundle that passes every check fails at connect.
 */
import { execFile } from 'node:child_process';
import { createHash, createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { type CliResult, runCli, tempDir } from '../lab/helpers.js';
import { bundleInventory, craftBundle, manifestText, servingBundle, writeTar } from './crafted-bundle.js';
import { json, startHostileRegistry, type HostileRegistry } from './hostile-registry.js';
import { pushArchive, startRegistry, testImageArchive, PUSHER } from './real-registry.js';

const OPERATOR_KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nFAKE-OPERATOR-KEY-FOR-THE-TEST\n-----END OPENSSH PRIVATE KEY-----\n';
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

let dir: string;
let home: string;
let inv: Inventory;
let inventoryFile: string;
type Run = CliResult;
/** The CLI on a scratch workstation: its own HOME (with the FAKE key), state, registry logins and TMPDIR. */
const kubestrap = (args: readonly string[]): Promise<Run> =>
  runCli(args, {
    HOME: home,
    KUBESTRAP_HOME: join(home, '.kubestrap'),
    REGISTRY_AUTH_FILE: join(dir, 'auth.json'),
    TMPDIR: join(dir, 'tmp'),
  });
const output = (r: Run) => r.stdout + r.stderr;
/** bundle create of the test's inventory into `out`, registry.local's images from `mirror` (registry.local=URL). */
const createBundle = (out: string, mirror: string) => kubestrap(['bundle', 'create', '-i', inventoryFile, '-o', out, '--mirror', mirror]);

/** An inventory whose hosts are closed ports on loopback: a bundle that passes every check fails at connect, at once. */
const writeInventory = (name: string, cluster: Record<string, unknown> = {}) =>
  bundleInventory(
    dir,
    name,
    [
      { address: '127.0.0.1', port: 9 },
      { address: '127.0.0.1', port: 13 },
    ],
    'http://127.0.0.1:9/kubernetes',
    cluster,
  );

/** A bundle that serves the inventory, with `change` applied to its bundle.json first. */
function bundle(
  name: string,
  change: (m: ReturnType<typeof servingBundle>['manifest']) => unknown = (m) => m,
  options: Parameters<typeof craftBundle>[3] = {},
): string {
  const { manifest, files } = servingBundle(inv);
  const file = join(dir, `${name}.bundle`);
  craftBundle(file, manifestText(change(structuredClone(manifest)) as typeof manifest), files, options);
  return file;
}

/** Nothing of the operator's key in anything kubestrap printed, and the key file untouched. */
function keyNotLeaked(...runs: Run[]): void {
  for (const r of runs) expect(output(r)).not.toContain('FAKE-OPERATOR-KEY');
  expect(readFileSync(join(home, '.ssh', 'id_ed25519'), 'utf8')).toBe(OPERATOR_KEY);
}

beforeAll(async () => {
  dir = tempDir('hostile');
  home = join(dir, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true });
  mkdirSync(join(dir, 'tmp'));
  writeFileSync(join(home, '.ssh', 'id_ed25519'), OPERATOR_KEY, { mode: 0o600 });
  await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id_ed25519')]);
  inventoryFile = writeInventory('cluster');
  inv = (await parseInventory(readFileSync(inventoryFile, 'utf8'), inventoryFile, { checkKeyFiles: false })).inventory;
}, 60_000);

describe('R2-H1: a bundle cannot name a workstation file', () => {
  it('a package path or Calico manifest leading out of the bundle is refused by bundle verify and by plan before any host, naming the line and field', async () => {
    const file = bundle('h1', (m) => ({
      ...m,
      packages: [{ ...m.packages[0]!, path: '../../../../.ssh/id_ed25519' }, ...m.packages.slice(1)],
      calicoManifest: '../../../../.ssh/id_ed25519',
    }));
    const verify = await kubestrap(['bundle', 'verify', file]);
    expect(verify.code).toBe(1);
    expect(verify.stderr).toMatch(
      /h1\.bundle:bundle\.json:\d+:\d+: packages\[0\]\.path: "\.\.\/\.\.\/\.\.\/\.\.\/\.ssh\/id_ed25519" is not packages\/<deb\|rpm>\/<arch>\/<file>/,
    );
    expect(verify.stderr).toMatch(
      /bundle\.json:\d+:\d+: calicoManifest: "\.\.\/\.\.\/\.\.\/\.\.\/\.ssh\/id_ed25519" is not one of manifests\/calico\.yaml/,
    );
    const plan = await kubestrap(['plan', '-i', inventoryFile, '--bundle', file, '--diff']);
    expect(plan.code).toBe(1);
    expect(plan.stderr).toMatch(/packages\[0\]\.path/);
    expect(plan.stdout).not.toMatch(/connect/);
    keyNotLeaked(verify, plan);
    // nothing was extracted from a bundle refused at its manifest
    expect(existsSync(join(home, '.kubestrap', 'cache', 'bundles'))).toBe(false);
  });

  it('a package path of the right shape that bundle.json does not list as an entry is refused', async () => {
    const file = bundle('unlisted', (m) => ({
      ...m,
      packages: [{ ...m.packages[0]!, path: 'packages/deb/amd64/elsewhere.deb' }, ...m.packages.slice(1)],
    }));
    const verify = await kubestrap(['bundle', 'verify', file]);
    expect(verify.code).toBe(1);
    expect(verify.stderr).toMatch(/packages\[0\]\.path: packages\/deb\/amd64\/elsewhere\.deb is not a listed entry/);
  });
});

describe('R2-M3: bundles are authenticated', () => {
  let keyA: string;
  let keyB: string;
  beforeAll(async () => {
    keyA = join(dir, 'site-a.key');
    keyB = join(dir, 'other.key');
    for (const key of [keyA, keyB]) {
      const made = await kubestrap(['bundle', 'keygen', '-o', key]);
      expect(made.code, output(made)).toBe(0);
    }
    expect(statSync(keyA).mode & 0o777).toBe(0o600);
    expect(readFileSync(`${keyA}.pub`, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
  });
  const signed = (name: string, key: string, change?: (text: string) => string) => {
    const { manifest, files } = servingBundle(inv);
    const file = join(dir, `${name}.bundle`);
    const text = manifestText(manifest);
    craftBundle(file, change ? change(text) : text, files, { signWith: createPrivateKey(readFileSync(key)), signatureOf: text });
    return file;
  };
  const trusting = (name: string, airgap: Record<string, unknown>) => writeInventory(name, { airgap });

  it('a bundle signed by the trusted key passes every check before connect; bundle verify names the key', async () => {
    const file = signed('signed-a', keyA);
    const verify = await kubestrap(['bundle', 'verify', file, '--trusted-key', `${keyA}.pub`]);
    expect(verify.code, output(verify)).toBe(0);
    expect(verify.stdout).toMatch(/^signed by trusted key sha256:[0-9a-f]{64}$/m);
    const plan = await kubestrap(['plan', '-i', trusting('trusts-a', { bundle: file, trustedKeys: [`${keyA}.pub`] })]);
    // the bundle was accepted: the run went on to connect, which fails on the closed port
    expect(output(plan)).toMatch(/ECONNREFUSED|connection refused/i);
    expect(output(plan)).not.toMatch(/used without authentication/);
  });

  it('one changed byte in bundle.json, an unsigned bundle and a bundle signed by another key are each refused before any host, naming why', async () => {
    const cases: Array<[string, string, RegExp]> = [
      [
        'changed',
        signed('changed', keyA, (t) => t.replace('"v1.20.2"', '"v1.20.2" ')),
        /bundle\.json does not match its signature by .*site-a\.key\.pub \(sha256:[0-9a-f]{64}\): it was changed after it was signed; refused/,
      ],
      ['unsigned', bundle('unsigned'), /unsigned\.bundle is not signed \(bundle create --sign-key signs it\); refused/],
      [
        'other-key',
        signed('other-key', keyB),
        /other-key\.bundle is signed by key sha256:[0-9a-f]{64}, which is not trusted \(trusted: .*site-a\.key\.pub sha256:[0-9a-f]{64}\)/,
      ],
    ];
    for (const [name, file, reason] of cases) {
      const plan = await kubestrap(['apply', '-i', trusting(`trusts-a-${name}`, { bundle: file, trustedKeys: [`${keyA}.pub`] })]);
      expect(plan.code, name).toBe(1);
      expect(plan.stderr, name).toMatch(reason);
      expect(plan.stderr, name).toMatch(/\(cluster\.airgap\.trustedKeys\)/);
      expect(plan.stdout, name).not.toMatch(/connect/);
      const verify = await kubestrap(['bundle', 'verify', file, '--trusted-key', `${keyA}.pub`]);
      expect(verify.code, name).toBe(1);
      expect(verify.stderr, name).toMatch(reason);
    }
  });

  it('the inventory pin of bundle.json: another bundle is refused, the pinned one accepted; an inventory that trusts nothing is warned at plan', async () => {
    const file = bundle('pinned');
    const verify = await kubestrap(['bundle', 'verify', file]);
    const actual = /bundle\.json sha256 ([0-9a-f]{64})/.exec(verify.stdout)![1]!;
    expect(verify.stdout).toMatch(/not signed: nothing vouches for who made it/);
    const wrong = await kubestrap(['plan', '-i', trusting('pin-wrong', { bundle: file, bundleSha256: 'f'.repeat(64) })]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(
      new RegExp(`its bundle\\.json has sha256 ${actual}, but cluster\\.airgap\\.bundleSha256 pins f{64}: refused`),
    );
    const right = await kubestrap(['plan', '-i', trusting('pin-right', { bundle: file, bundleSha256: actual })]);
    expect(output(right)).toMatch(/ECONNREFUSED|connection refused/i);
    expect(output(right)).not.toMatch(/used without authentication/);
    const none = await kubestrap(['plan', '-i', trusting('trusts-nothing', { bundle: file })]);
    expect(none.stderr).toMatch(
      new RegExp(
        `warning: .*pinned\\.bundle is used without authentication: the inventory trusts no signing key \\(cluster\\.airgap\\.trustedKeys\\) and pins no bundle\\.json \\(cluster\\.airgap\\.bundleSha256 ${actual}\\)`,
      ),
    );
  });

  it("the inventory's calicoManifestSha256 is checked against the bundle's Calico manifest", async () => {
    const reviewed = readFileSync('test/fixtures/calico-minimal.yaml', 'utf8');
    const swapped = `${reviewed}---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: calico-extra}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: User, name: system:anonymous}]\n`;
    const calicoInventory = writeInventory('calico', {
      cni: {
        plugin: 'calico',
        calicoManifest: join(process.cwd(), 'test/fixtures/calico-minimal.yaml'),
        calicoManifestSha256: sha256(reviewed),
      },
    });
    const calicoInv = (await parseInventory(readFileSync(calicoInventory, 'utf8'), calicoInventory, { checkKeyFiles: false })).inventory;
    const { manifest, files } = servingBundle(calicoInv, swapped);
    const file = join(dir, 'calico.bundle');
    craftBundle(file, manifestText(manifest), files);
    const plan = await kubestrap(['plan', '-i', calicoInventory, '--bundle', file]);
    expect(plan.code).toBe(1);
    expect(plan.stderr).toMatch(
      new RegExp(
        `the bundle's Calico manifest has sha256 ${sha256(swapped)}, but cluster\\.cni\\.calicoManifestSha256 pins ${sha256(reviewed)}: refusing to install what was not reviewed`,
      ),
    );
    expect(plan.stdout).not.toMatch(/connect/);
  });
});

describe('R2-L1, R2-L3, R2-L6, R2-L8, R2-I1: hostile archives and manifests', () => {
  it('a gzip-compressed bundle is refused before anything is extracted (R2-L1)', async () => {
    const { manifest, files } = servingBundle(inv);
    const file = join(dir, 'gzip.bundle');
    craftBundle(file, manifestText(manifest), files, { gzip: true });
    const plan = await kubestrap(['plan', '-i', inventoryFile, '--bundle', file]);
    expect(plan.code).toBe(1);
    expect(plan.stderr).toMatch(
      /gzip\.bundle: not a kubestrap bundle: not a plain tar archive \(it is gzip-compressed: bundles are plain tar/,
    );
  });

  it('an entry longer in the archive than bundle.json lists is refused and never written (R2-L1)', async () => {
    const { manifest, files } = servingBundle(inv);
    const [path] = [...files.keys()];
    const big = new Map(files);
    big.set(path!, Buffer.alloc(8 << 20, 1));
    const file = join(dir, 'long-entry.bundle');
    craftBundle(file, manifestText(manifest), big);
    const plan = await kubestrap(['plan', '-i', inventoryFile, '--bundle', file]);
    expect(plan.code).toBe(1);
    expect(plan.stderr).toContain(`${path}: ${8 << 20} bytes in the archive, ${files.get(path!)!.length} listed in bundle.json`);
    // nothing of the entry reached the workstation's disk (the cache holds small stand-ins only)
    const cache = join(home, '.kubestrap', 'cache', 'bundles');
    const sizes = existsSync(cache)
      ? readdirSync(cache, { recursive: true, withFileTypes: true })
          .filter((e) => e.isFile())
          .map((e) => statSync(join(e.parentPath, e.name)).size)
      : [];
    expect(sizes.filter((size) => size > 1 << 20)).toEqual([]);
  });

  it('a bundle.json larger than any real one is refused unread (R2-L8)', async () => {
    const file = join(dir, 'huge-manifest.bundle');
    writeTar(file, [{ path: 'bundle.json', content: Buffer.from(`{"pad":"${'x'.repeat(5 << 20)}"}`) }]);
    const list = await kubestrap(['bundle', 'list', file]);
    expect(list.code).toBe(1);
    expect(list.stderr).toMatch(/bundle\.json is \d+ bytes; kubestrap reads at most 4194304/);
  });

  it('an image digest that is a path is refused, and no link is left in TMPDIR (R2-L3)', async () => {
    const file = bundle('digest-path', (m) => {
      const image = m.images[0]!;
      const p = image.platforms['linux/amd64']!;
      return {
        ...m,
        images: [
          { ...image, platforms: { 'linux/amd64': { ...p, blobs: [{ ...p.blobs[0]!, digest: 'sha256:../../../../planted-by-bundle' }] } } },
          ...m.images.slice(1),
        ],
      };
    });
    const plan = await kubestrap(['plan', '-i', inventoryFile, '--bundle', file]);
    expect(plan.code).toBe(1);
    expect(plan.stderr).toMatch(
      /images\[0\]\.platforms\.linux\/amd64\.blobs\[0\]\.digest: "sha256:\.\.\/\.\.\/\.\.\/\.\.\/planted-by-bundle" is not a digest sha256:<64 lower-case hex>/,
    );
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
    expect(existsSync(join(dir, 'planted-by-bundle'))).toBe(false);
  });

  it('terminal escapes in bundle.json are refused, and none reaches the terminal (R2-L6)', async () => {
    const file = bundle('escapes', (m) => ({
      ...m,
      packages: [{ ...m.packages[0]!, name: 'kubelet\u001b]0;owned\u0007\u001b[2J' }, ...m.packages.slice(1)],
    }));
    const list = await kubestrap(['bundle', 'list', file]);
    expect(list.code).toBe(1);
    expect(list.stderr).toMatch(/packages\[0\]\.name: holds a newline or another control character/);
    expect(output(list)).not.toContain('\u001b');
  });

  it('a `../` entry is a problem bundle verify names, not a crash (R2-I1)', async () => {
    const { manifest, files } = servingBundle(inv);
    const file = join(dir, 'dotdot.bundle');
    craftBundle(file, manifestText(manifest), files, { extra: [{ path: '../escaped-entry', content: Buffer.from('x') }] });
    const verify = await kubestrap(['bundle', 'verify', file]);
    expect(verify.code).toBe(1);
    expect(verify.stderr).toMatch(/dotdot\.bundle is damaged:\n {2}"\.\.\/escaped-entry": not listed in bundle\.json/);
    expect(verify.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(dir, 'escaped-entry'))).toBe(false);
  });
});

describe('R2-M1, R2-L8: bundle create against a hostile registry', () => {
  let registry: HostileRegistry;
  let script: (path: string) => { status: number; body: Buffer | string; headers?: Record<string, string> } | 'endless';
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  const configDescriptor = {
    mediaType: 'application/vnd.oci.image.config.v1+json',
    digest: `sha256:${sha256(config)}`,
    size: config.length,
  };
  const manifestWith = (layer: Record<string, unknown>) =>
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: configDescriptor,
      layers: [layer],
    });
  beforeAll(async () => {
    registry = await startHostileRegistry((req, res) => {
      const answer = script(req.url ?? '');
      if (answer === 'endless') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = Buffer.alloc(64 << 10, 7);
        let sent = 0;
        const more = () => {
          while (sent < 64 << 20 && res.write(chunk)) sent += chunk.length;
          if (sent >= 64 << 20) res.end();
        };
        res.on('drain', more);
        res.on('close', () => res.removeAllListeners('drain'));
        more();
        return;
      }
      const manifest = req.url?.includes('/manifests/') ? { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } : {};
      json(res, answer.status, answer.body, { ...manifest, ...answer.headers });
    });
  });
  afterAll(() => registry?.close());

  it('a layer digest that is a path is refused: nothing of the workstation is packed and nothing is left outside the work directory (R2-M1)', async () => {
    script = (path) => {
      if (path === '/v2/') return { status: 200, body: '{}' };
      if (path.includes('/manifests/'))
        return {
          status: 200,
          body: manifestWith({
            mediaType: 'application/vnd.oci.image.layer.v1.tar',
            digest: 'sha256:../../../../../../.ssh/id_ed25519',
            size: 100,
          }),
        };
      return { status: 200, body: config };
    };
    const out = join(dir, 'out', 'm1.bundle');
    mkdirSync(join(dir, 'out'), { recursive: true });
    const created = await createBundle(out, `registry.local=${registry.url}`);
    expect(created.code).toBe(1);
    expect(created.stderr).toMatch(
      /layers\[0\]: digest "sha256:\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/\.ssh\/id_ed25519" is not sha256:<64 hex>; refused/,
    );
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(join(dir, 'out'))).toEqual([]);
    expect(existsSync(join(home, '.kubestrap', '.ssh'))).toBe(false);
    keyNotLeaked(created);
  });

  it('a manifest larger than registries allow is refused unread (R2-L8)', async () => {
    script = (path) => (path === '/v2/' ? { status: 200, body: '{}' } : { status: 200, body: `{"pad":"${'x'.repeat(5 << 20)}"}` });
    const created = await createBundle(join(dir, 'l8.bundle'), `registry.local=${registry.url}`);
    expect(created.code).toBe(1);
    expect(created.stderr).toMatch(/manifest: \d+ bytes announced; kubestrap reads at most 4194304/);
  });

  it('a blob streaming past its listed size is cut off at that size and refused (R2-L8)', async () => {
    const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${'a'.repeat(64)}`, size: 100 };
    script = (path) => {
      if (path === '/v2/') return { status: 200, body: '{}' };
      if (path.includes('/manifests/')) return { status: 200, body: manifestWith(layer) };
      if (path.endsWith(configDescriptor.digest)) return { status: 200, body: config };
      return 'endless';
    };
    const created = await createBundle(join(dir, 'endless.bundle'), `registry.local=${registry.url}`);
    expect(created.code).toBe(1);
    expect(created.stderr).toMatch(/blob sha256:a{64}: the registry sent more than its 100 bytes; refused/);
    // the cut-off download was removed, partial file and all
    const blobs = join(home, '.kubestrap', 'cache', 'downloads', 'blobs');
    expect(readdirSync(blobs).filter((f) => f.includes('a'.repeat(64)))).toEqual([]);
  });
});

describe('R2-M2, R2-I2: a registry login reaches only the host it is stored for, over https', () => {
  const authFile = (auths: Record<string, string>) =>
    writeFileSync(
      join(dir, 'auth.json'),
      JSON.stringify({
        auths: Object.fromEntries(Object.entries(auths).map(([host, login]) => [host, { auth: Buffer.from(login).toString('base64') }])),
      }),
    );
  const basicChallenge = (res: Parameters<Parameters<typeof startHostileRegistry>[0]>[1]) =>
    json(res, 401, { errors: [{ code: 'UNAUTHORIZED' }] }, { 'www-authenticate': 'Basic realm="registry"' });

  it('a mirror over plain http asking for Basic never receives a login, not even the one stored for its own host', async () => {
    const mirror = await startHostileRegistry((_req, res) => basicChallenge(res));
    try {
      authFile({ 'registry.local': 'operator:S3cret-registry-token', [mirror.host]: 'mirror-user:mirror-secret' });
      const created = await createBundle(join(dir, 'm2.bundle'), `registry.local=${mirror.url}`);
      expect(created.code).toBe(1);
      expect(created.stderr).toMatch(/asks for a user name and password \(Basic\) over plain http; kubestrap sends logins over https only/);
      expect(mirror.requests.length).toBeGreaterThan(0);
      expect(mirror.requests.filter((r) => r.authorization)).toEqual([]);
      expect(output(created)).not.toMatch(/S3cret|mirror-secret/);
    } finally {
      await mirror.close();
    }
  });

  it("a mirror over https gets the login stored for its own host, never the registry's", async () => {
    const mirror = await startHostileRegistry((_req, res) => basicChallenge(res), { tls: true });
    try {
      authFile({ 'registry.local': 'operator:S3cret-registry-token' });
      const none = await createBundle(join(dir, 'm2s.bundle'), `registry.local=${mirror.url}`);
      expect(none.code).toBe(1);
      expect(none.stderr).toContain(`${mirror.host} asks for a user name and password (Basic), and none is stored for ${mirror.host}`);
      expect(mirror.requests.filter((r) => r.authorization)).toEqual([]);
      authFile({ 'registry.local': 'operator:S3cret-registry-token', [mirror.host]: 'mirror-user:mirror-secret' });
      await createBundle(join(dir, 'm2s.bundle'), `registry.local=${mirror.url}`);
      const sent = new Set(mirror.requests.map((r) => r.authorization).filter(Boolean));
      expect([...sent]).toEqual([`Basic ${Buffer.from('mirror-user:mirror-secret').toString('base64')}`]);
    } finally {
      await mirror.close();
    }
  });

  it('an https registry naming a token service on plain http is refused before the token service is asked (R2-I2); one on another https host gets only its own login', async () => {
    const realm = await startHostileRegistry((_req, res) => json(res, 200, { token: 'stolen-nothing' }), { address: '127.0.0.2' });
    const secureRealm = await startHostileRegistry((_req, res) => json(res, 401, {}), { address: '127.0.0.2', tls: true });
    let realmUrl = `${realm.url}/token`;
    const registry = await startHostileRegistry(
      (_req, res) => json(res, 401, {}, { 'www-authenticate': `Bearer realm="${realmUrl}",service="registry"` }),
      { tls: true },
    );
    try {
      authFile({ 'registry.local': 'operator:S3cret-registry-token', [registry.host]: 'operator:S3cret-registry-token' });
      const http = await createBundle(join(dir, 'i2.bundle'), `registry.local=${registry.url}`);
      expect(http.code).toBe(1);
      expect(http.stderr).toMatch(/\(https\) names a token service on http:\/\/127\.0\.0\.2:\d+: refused/);
      expect(realm.requests).toEqual([]);
      realmUrl = `${secureRealm.url}/token`;
      const other = await createBundle(join(dir, 'i2.bundle'), `registry.local=${registry.url}`);
      expect(other.code).toBe(1);
      expect(other.stderr).toContain(
        `kubestrap sends a login only to the host it is stored for, and none is stored for ${secureRealm.host}`,
      );
      expect(secureRealm.requests.length).toBeGreaterThan(0);
      expect(secureRealm.requests.filter((r) => r.authorization)).toEqual([]);
    } finally {
      await Promise.all([realm.close(), secureRealm.close(), registry.close()]);
    }
  });

  it('the real registry over https: the login stored for its host opens its private repository', async () => {
    const secure = await startRegistry(join(dir, 'secure-registry'), { anonymousPull: false, tls: true });
    try {
      await pushArchive(secure, testImageArchive(dir, 'private', 'amd64', Buffer.from('private')), 'lab/private:1');
      authFile({ [secure.address]: `${PUSHER.username}:${PUSHER.password}` });
      const listed = await kubestrap([
        'bundle',
        'create',
        '-i',
        writeInventory('private', {
          imageRepository: `${secure.address}/lab`,
          addons: { coreDNS: false, metricsServer: false, kubeProxy: false },
        }),
        '-o',
        join(dir, 'private.bundle'),
      ]);
      // the login opened the private repository: kubestrap got past authentication to the images the lab registry lacks
      expect(listed.stderr).not.toMatch(/refused access|asks for a user name/);
      expect(listed.stderr).toMatch(/lab\/(pause|kube-\S+|etcd):\S+: not found in the registry/);
    } finally {
      await secure.stop();
    }
  });
});

describe("R2-L4: values that reach the kubelet's flags", () => {
  it('sandboxImage and socket holding white space are refused by validate, naming the field', async () => {
    const file = writeInventory('flags', {
      containerRuntime: {
        sandboxImage: 'registry.k8s.io/pause:3.10 --anonymous-auth=true --authorization-mode=AlwaysAllow',
        socket: 'unix:///run/containerd/containerd.sock --read-only-port=10255',
      },
    });
    const validate = await kubestrap(['validate', '-i', file]);
    expect(validate.code).toBe(1);
    expect(validate.stderr).toMatch(/flags\.yaml:\d+:\d+: cluster\.containerRuntime\.sandboxImage: .* is not an image reference/);
    expect(validate.stderr).toMatch(/flags\.yaml:\d+:\d+: cluster\.containerRuntime\.socket: .* is not unix:\/\/\/<absolute path>/);
  });
});
