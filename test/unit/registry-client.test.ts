/**
 * The registry client against a real Distribution registry (Debian's docker-registry) with
 * token authentication; images pushed by skopeo. The dropped connection is a TCP proxy on
 * loopback that cuts the first blob download part-way, as a flaky link would.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseImageRef } from '../../src/util/image-ref.js';
import { fileDigest, parsePlatform, RegistryClient } from '../../src/airgap/registry-client.js';
import { PUSHER, pushArchive, pushManifestList, startRegistry, testImageArchive, type RealRegistry } from './real-registry.js';
import { registryCredentials } from '../../src/airgap/registry-auth.js';
import { tempDir } from '../lab/helpers.js';

const amd64 = parsePlatform('linux/amd64');
const arm64 = parsePlatform('linux/arm64');

describe('registry client against the real Distribution registry', () => {
  let dir: string;
  let registry: RealRegistry;
  let listDigest: string;
  const payload = randomBytes(3 * 1024 * 1024); // random: the layer stays ~3 MiB compressed
  const client = () => new RegistryClient({ endpoint: () => registry.url });

  beforeAll(async () => {
    dir = tempDir('registry');
    registry = await startRegistry(join(dir, 'registry'));
    await pushArchive(registry, testImageArchive(dir, 'tool', 'amd64', payload), 'lab/tool:amd64');
    await pushArchive(registry, testImageArchive(dir, 'tool', 'arm64', Buffer.from('arm64 payload')), 'lab/tool:arm64');
    await pushArchive(registry, testImageArchive(dir, 'single', 'amd64', Buffer.from('single')), 'lab/single:1.0');
    listDigest = await pushManifestList(registry, 'lab/tool', '1.0', { amd64: 'amd64', arm64: 'arm64' });
  }, 60_000);
  afterAll(async () => {
    await registry?.stop();
  });

  it("authenticates with a token from the registry's token service, for pull only", async () => {
    const before = registry.tokenRequests.length;
    const image = await client().resolve(parseImageRef(`${registry.address}/lab/single:1.0`), [amd64]);
    expect(image.manifests.get('linux/amd64')!.layers).toHaveLength(1);
    expect(registry.tokenRequests.slice(before)).toEqual(['repository:lab/single:pull']);
  });

  it('refuses when the token service grants no anonymous pull, and pulls with the credentials of the auth file (over https)', async () => {
    const closed = await startRegistry(join(dir, 'closed'), { anonymousPull: false, tls: true });
    try {
      await pushArchive(closed, testImageArchive(dir, 'private', 'amd64', Buffer.from('private')), 'lab/private:1');
      const ref = parseImageRef(`${closed.address}/lab/private:1`);
      await expect(new RegistryClient({ endpoint: () => closed.url }).resolve(ref, [amd64])).rejects.toThrow(
        /lab\/private:1: the registry refused access \(HTTP 401\); kubestrap reads registry logins from \$REGISTRY_AUTH_FILE/,
      );
      // what `docker login` / `skopeo login` write
      const authFile = join(dir, 'auth.json');
      writeFileSync(
        authFile,
        JSON.stringify({ auths: { [closed.address]: { auth: Buffer.from(`${PUSHER.username}:${PUSHER.password}`).toString('base64') } } }),
      );
      const withLogin = new RegistryClient({
        endpoint: () => closed.url,
        credentials: (registry) => registryCredentials(registry, authFile),
      });
      expect((await withLogin.resolve(ref, [amd64])).manifests.get('linux/amd64')!.layers).toHaveLength(1);
    } finally {
      await closed.stop();
    }
  });

  it('reads image references as containerd does, and refuses a registry part that is not host[:port]', () => {
    expect(parseImageRef('registry.cn-hangzhou.aliyuncs.com/google_containers/pause:3.9')).toEqual({
      registry: 'registry.cn-hangzhou.aliyuncs.com',
      repository: 'google_containers/pause',
      tag: '3.9',
    });
    expect(parseImageRef('haproxy:2.8')).toEqual({ registry: 'docker.io', repository: 'library/haproxy', tag: '2.8' });
    expect(parseImageRef('127.0.0.1:5000/lab/tool')).toEqual({ registry: '127.0.0.1:5000', repository: 'lab/tool', tag: 'latest' });
    // the registry part names a certs.d directory on every node in site registry mode
    expect(() => parseImageRef('../../etc/pause:3.9')).toThrow(/bad registry \.\./);
    expect(() => parseImageRef('a..b/pause:3.9')).toThrow(/bad registry a\.\.b/);
  });

  it("resolves a manifest list to each platform's manifest, and names a platform the image lacks", async () => {
    const ref = parseImageRef(`${registry.address}/lab/tool:1.0`);
    const image = await client().resolve(ref, [amd64, arm64]);
    expect(image.digest).toBe(listDigest);
    const [a, b] = [image.manifests.get('linux/amd64')!, image.manifests.get('linux/arm64')!];
    expect(a.descriptor.digest).not.toBe(b.descriptor.digest);
    expect(a.descriptor.platform).toEqual(amd64);
    await expect(client().resolve(ref, [parsePlatform('linux/s390x')])).rejects.toThrow(
      /lab\/tool:1.0 has no linux\/s390x image \(it has linux\/amd64, linux\/arm64\)/,
    );
    await expect(client().resolve(parseImageRef(`${registry.address}/lab/single:1.0`), [arm64])).rejects.toThrow(
      /has no linux\/arm64 image \(it is a single linux\/amd64 image\)/,
    );
  });

  it('refuses a blob whose content does not match its digest, and keeps nothing of it', async () => {
    const ref = parseImageRef(`${registry.address}/lab/single:1.0`);
    const layer = (await client().resolve(ref, [amd64])).manifests.get('linux/amd64')!.layers[0]!;
    const hex = layer.digest.slice('sha256:'.length);
    const stored = join(registry.storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    const original = readFileSync(stored);
    const flipped = Buffer.from(original);
    flipped[flipped.length - 1]! ^= 0xff;
    writeFileSync(stored, flipped);
    try {
      const target = join(dir, 'flipped', 'blob');
      await expect(client().downloadBlob(ref, layer, target)).rejects.toThrow(
        /digest mismatch \(downloaded content is sha256:[0-9a-f]{64}\); refused/,
      );
      expect(existsSync(target)).toBe(false);
      expect(readdirSync(join(dir, 'flipped'))).toEqual([]);
    } finally {
      writeFileSync(stored, original);
    }
  });

  it('continues a download cut part-way with a Range request, and the blob verifies', async () => {
    const requests: string[] = [];
    let cut = false;
    const proxy: Server = createServer((downstream) => {
      const upstream = connect(Number(registry.address.split(':')[1]), '127.0.0.1');
      let forwarded = 0;
      let isBlob = false;
      downstream.on('data', (d: Buffer) => {
        const text = d.toString('latin1');
        if (/^GET /.test(text)) {
          requests.push(text.split('\r\n\r\n')[0]!);
          isBlob = /\/blobs\/sha256:/.test(text);
        }
        upstream.write(d);
      });
      upstream.on('data', (d: Buffer) => {
        forwarded += d.length;
        downstream.write(d);
        // the first blob response is cut after ~1 MiB, mid-body
        if (isBlob && !cut && forwarded > 1024 * 1024) {
          cut = true;
          downstream.destroy();
          upstream.destroy();
        }
      });
      upstream.on('error', () => downstream.destroy());
      downstream.on('error', () => upstream.destroy());
      upstream.on('close', () => downstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const proxied = new RegistryClient({ endpoint: () => `http://127.0.0.1:${(proxy.address() as { port: number }).port}` });
      const ref = parseImageRef(`${registry.address}/lab/tool:1.0`);
      const layer = (await proxied.resolve(ref, [amd64])).manifests.get('linux/amd64')!.layers[0]!;
      expect(layer.size).toBeGreaterThan(2 * 1024 * 1024);
      const target = join(dir, 'resumed', 'blob');
      const received = await proxied.downloadBlob(ref, layer, target);
      expect(cut).toBe(true);
      expect(await fileDigest(target)).toBe(layer.digest);
      const blobRequests = requests.filter((r) => r.includes(layer.digest));
      expect(blobRequests).toHaveLength(2);
      expect(blobRequests[0]).not.toMatch(/range:/i);
      expect(blobRequests[1]).toMatch(/\r\nrange: bytes=[1-9]\d*-/i);
      // what crossed the network: the blob once, not twice
      expect(received).toBe(layer.size);
    } finally {
      proxy.close();
    }
  });
});
