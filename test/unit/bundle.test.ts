/**
 * `kubestrap bundle create|list|verify` and the refusals of a bundle that does not serve the
 * inventory, against a real Distribution registry (token auth; stand-in images pushed by
 * skopeo under the names a 1.20.2 cluster uses) and a real apt repository (dpkg-scanpackages,
 * FAKE kubelet/kubectl/cri-tools packages) served over HTTP on loopback. The refusals come
 * before any host is touched: the inventory's hosts are TEST-NET addresses nothing answers on.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDeb, buildRpm, index, serveDirectory, type ServedRepo } from '../lab/package-repo.js';
import { bundleInventory } from './crafted-bundle.js';
import { pushArchive, startRegistry, testImageArchive, type RealRegistry } from './real-registry.js';
import { tempDir } from '../lab/helpers.js';

const VERSION = '1.20.2';
const ETCD_TAG = '3.4.13-0';
/** What a 1.20.2 control plane and its workers run with kube-proxy and no CNI, CoreDNS or metrics-server. */
const IMAGES = [
  'pause:3.2',
  `kube-apiserver:v${VERSION}`,
  `kube-controller-manager:v${VERSION}`,
  `kube-scheduler:v${VERSION}`,
  `kube-proxy:v${VERSION}`,
  `etcd:${ETCD_TAG}`,
];

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe('air-gap bundle: create, list, verify, and refusals before any host is touched', () => {
  let dir: string;
  let registry: RealRegistry;
  let repo: ServedRepo;
  const env = () => ({ ...process.env, KUBESTRAP_HOME: join(dir, 'home') });
  const kubestrap = (...args: string[]): Promise<Run> =>
    promisify(execFile)(process.execPath, ['bin/kubestrap.js', ...args], { env: env(), maxBuffer: 64 * 1024 * 1024 }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
    );
  // TEST-NET addresses nothing answers on: the refusals come before any host is touched
  const inventory = (name: string, cluster: Record<string, unknown> = {}) =>
    bundleInventory(dir, name, [{ address: '192.0.2.10' }, { address: '192.0.2.11' }], `${repo.url}/kubernetes`, cluster);
  const mirror = () => `registry.local=${registry.url}`;

  beforeAll(async () => {
    dir = tempDir('bundle');
    await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id_ed25519')]);
    registry = await startRegistry(join(dir, 'registry'));
    for (const image of IMAGES)
      await pushArchive(registry, testImageArchive(dir, image.split(':')[0]!, 'amd64', Buffer.from(`stand-in ${image}`)), image);
    const debs = join(dir, 'repo', 'kubernetes', 'core:', 'stable:', 'v1.20', 'deb');
    mkdirSync(debs, { recursive: true });
    const fake = (name: string, version: string) =>
      buildDeb(debs, { name, version, description: `FAKE ${name}`, files: { [`usr/bin/${name}`]: '#!/bin/sh\n' } });
    fake('kubelet', `${VERSION}-1.1`);
    fake('kubelet', '1.20.1-1.1');
    fake('kubectl', `${VERSION}-1.1`);
    fake('cri-tools', '1.19.0-1.1');
    fake('cri-tools', '1.20.0-1.1');
    index(debs);
    // the same release for RHEL-family hosts: a yum repository made by createrepo_c
    const rpms = join(dir, 'repo', 'kubernetes', 'core:', 'stable:', 'v1.20', 'rpm');
    mkdirSync(rpms, { recursive: true });
    buildRpm(rpms, { name: 'kubelet', version: VERSION, release: '150500.1.1', requires: ['kubernetes-cni', 'iptables'] });
    buildRpm(rpms, { name: 'kubelet', version: '1.20.1', release: '150500.1.1', requires: ['kubernetes-cni'] });
    buildRpm(rpms, { name: 'kubernetes-cni', version: '1.2.0', release: '150500.1.1' });
    buildRpm(rpms, { name: 'kubectl', version: VERSION, release: '150500.1.1' });
    buildRpm(rpms, { name: 'cri-tools', version: '1.20.0', release: '150500.1.1' });
    await promisify(execFile)('createrepo_c', ['-q', rpms]);
    repo = await serveDirectory(join(dir, 'repo'), '127.0.0.1');
  }, 120_000);
  afterAll(async () => {
    await repo?.close();
    await registry?.stop();
  });

  it('collects every image and package the cluster needs; list shows them, verify checks them; a second create downloads nothing', async () => {
    const inv = inventory('cluster');
    const bundle = join(dir, 'cluster.bundle');
    const first = await kubestrap('bundle', 'create', '-i', inv, '-o', bundle, '--mirror', mirror());
    expect(first.stderr).not.toMatch(/error/i);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^wrote .*cluster\.bundle: 6 images, 3 packages; [\d.]+ MiB; downloaded [1-9]\d* bytes$/m);

    const list = await kubestrap('bundle', 'list', bundle);
    for (const image of IMAGES)
      expect(list.stdout).toMatch(
        new RegExp(
          `^registry\\.local/${image.replace(/[.]/g, '\\.')}\\t(control-plane,worker|control-plane)\\tlinux/amd64\\tsha256:[0-9a-f]{64}\\t`,
          'm',
        ),
      );
    expect(list.stdout).toMatch(/^registry\.local\/kube-apiserver:v1\.20\.2\tcontrol-plane\t/m);
    expect(list.stdout).toMatch(/^registry\.local\/pause:3\.2\tcontrol-plane,worker\t/m);
    expect(list.stdout).toMatch(/^kubelet\t1\.20\.2-1\.1\tdeb\/amd64\t/m);
    expect(list.stdout).toMatch(/^cri-tools\t1\.20\.0-1\.1\tdeb\/amd64\t/m);

    const verify = await kubestrap('bundle', 'verify', bundle);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/: \d+ entries verified; bundle\.json sha256 [0-9a-f]{64}$/m);

    const before = statSync(bundle).mtimeMs;
    const second = await kubestrap('bundle', 'create', '-i', inv, '-o', bundle, '--mirror', mirror());
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^unchanged .*: 6 images, 3 packages; .*downloaded 0 bytes$/m);
    expect(statSync(bundle).mtimeMs).toBe(before);
  }, 120_000);

  it('bundle create --sign-key signs bundle.json and names the key bundle keygen made; bundle verify --trusted-key accepts the bundle', async () => {
    const key = join(dir, 'site.key');
    const made = await kubestrap('bundle', 'keygen', '-o', key);
    expect(made.code, made.stderr).toBe(0);
    const id = /key (sha256:[0-9a-f]{64})/.exec(made.stdout)?.[1];
    expect(id).toBeDefined();
    const bundle = join(dir, 'signed.bundle');
    const created = await kubestrap('bundle', 'create', '-i', inventory('cluster'), '-o', bundle, '--mirror', mirror(), '--sign-key', key);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain(`signed by key ${id!}`);
    const verified = await kubestrap('bundle', 'verify', bundle, '--trusted-key', `${key}.pub`);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  }, 120_000);

  it('carries rpm packages for RHEL-family hosts from the yum repository, with what they depend on from it', async () => {
    const bundle = join(dir, 'both.bundle');
    const created = await kubestrap(
      'bundle',
      'create',
      '-i',
      inventory('both'),
      '-o',
      bundle,
      '--mirror',
      mirror(),
      '--packages',
      'deb,rpm',
    );
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/: 6 images, 7 packages; /);
    const list = (await kubestrap('bundle', 'list', bundle)).stdout;
    expect(list).toMatch(/^kubelet\t1\.20\.2-150500\.1\.1\trpm\/x86_64\t/m);
    expect(list).toMatch(/^kubernetes-cni\t1\.2\.0-150500\.1\.1\trpm\/x86_64\t/m);
    expect(list).toMatch(/^kubelet\t1\.20\.2-1\.1\tdeb\/amd64\t/m);
    expect(list).not.toMatch(/iptables/);
    expect((await kubestrap('bundle', 'verify', bundle)).code).toBe(0);
  }, 60_000);

  it('refuses a flipped byte in the bundle, naming the entry', async () => {
    const bundle = join(dir, 'cluster.bundle');
    const damaged = join(dir, 'damaged.bundle');
    const bytes = readFileSync(bundle);
    // the last entry's data ends a few blocks before the archive's end (two zero blocks)
    const at = bytes.length - 1024 - 600;
    bytes[at]! ^= 0x01;
    writeFileSync(damaged, bytes);
    const verify = await kubestrap('bundle', 'verify', damaged);
    expect(verify.code).toBe(1);
    expect(verify.stderr).toMatch(/damaged\.bundle is damaged:\n {2}\S+: content differs from bundle\.json \(sha256 [0-9a-f]{64}/);
    const plan = await kubestrap('plan', '-i', inventory('damaged-plan'), '--bundle', damaged);
    expect(plan.code).toBe(1);
    expect(plan.stderr).toMatch(/damaged\.bundle is damaged: \S+: content differs/);
    expect(plan.stdout).not.toMatch(/connect/);
  }, 60_000);

  it('refuses a bundle for another release, and one that lacks an image the inventory needs, before connecting', async () => {
    const bundle = join(dir, 'cluster.bundle');
    const otherRelease = await kubestrap('apply', '-i', inventory('v1-20-1', { kubernetesVersion: 'v1.20.1' }), '--bundle', bundle);
    expect(otherRelease.code).toBe(1);
    expect(otherRelease.stderr).toMatch(
      /does not serve this inventory; nothing was changed:\n {2}the bundle is for Kubernetes v1\.20\.2, the inventory's cluster\.kubernetesVersion is v1\.20\.1/,
    );
    expect(otherRelease.stdout).not.toMatch(/connect/);
    // opening the bundle extracted it into the cache, every blob whole (its name is its digest)
    const [extracted] = readdirSync(join(dir, 'home', 'cache', 'bundles'));
    const blobs = join(dir, 'home', 'cache', 'bundles', extracted!, 'images', 'blobs', 'sha256');
    expect(readdirSync(blobs).length).toBeGreaterThan(12);
    for (const blob of readdirSync(blobs))
      expect(
        createHash('sha256')
          .update(readFileSync(join(blobs, blob)))
          .digest('hex'),
      ).toBe(blob);

    const moreImages = await kubestrap(
      'apply',
      '-i',
      inventory('node-local', {
        apiLoadBalancer: { mode: 'node-local', image: 'registry.local/haproxy:2.6' },
        addons: { coreDNS: true, metricsServer: false },
      }),
      '--bundle',
      bundle,
    );
    expect(moreImages.code).toBe(1);
    expect(moreImages.stderr).toMatch(
      /the bundle lacks the image registry\.local\/coredns:1\.7\.0 \(run by control-plane nodes and worker nodes\)/,
    );
    expect(moreImages.stderr).toMatch(/the bundle lacks the image registry\.local\/haproxy:2\.6 \(run by worker nodes\)/);
  }, 60_000);

  it('names the image and platform a registry cannot provide when creating', async () => {
    const result = await kubestrap(
      'bundle',
      'create',
      '-i',
      inventory('arm'),
      '-o',
      join(dir, 'arm.bundle'),
      '--mirror',
      mirror(),
      '--platform',
      'linux/amd64,linux/arm64',
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/registry\.local\/\S+ has no linux\/arm64 image \(it is a single linux\/amd64 image\)/);
  }, 60_000);

  it("validate names the site registry's host when it is not an inventory host, and an image reference that is not one", async () => {
    const result = await kubestrap(
      'validate',
      '-i',
      inventory('site', { airgap: { registry: { host: 'registry-1', image: "x';reboot;'" } } }),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/site\.yaml:\d+:\d+: cluster\.airgap\.registry\.host: "registry-1" is not a host of this inventory/);
    expect(result.stderr).toMatch(/site\.yaml:\d+:\d+: cluster\.airgap\.registry\.image: .*an image reference/);
  });
});
