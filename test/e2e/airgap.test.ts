/**
 * The e2e lab as an air-gapped site: nodes start with no Kubernetes image at all, and the
 * registry that plays the internet (Debian's Distribution registry with token auth, loaded with
 * the lab's images by skopeo) listens on this machine's loopback, which no node can reach.
 * `bundle create` pulls from it on the workstation and signs the bundle; the inventory trusts
 * that key, so an altered, unsigned or foreign-signed bundle is refused before any node is
 * touched; `apply` with the signed bundle brings up 1 control plane + 2 workers: nodes Ready,
 * the control plane's pods and kube-proxy Running, containerd holding the images under the
 * bundle's digests, no package file left on a node; a second apply uploads nothing.
 * Then site registry mode on a fresh lab: one worker runs the registry from the bundle (Debian's
 * docker-registry packed as an image stands in for docker.io/library/registry), and the other
 * nodes pull from it.
 * The add-ons come from the bundle too (Flannel, CoreDNS, metrics-server: the lab's images of
 * their real binaries) and run.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { runCli, tempDir } from '../lab/helpers.js';
import { pushArchive, registryImageArchive, startRegistry, type RealRegistry } from '../unit/real-registry.js';
import { ensureE2eArtifacts, IMAGE_REPOSITORY, startClusterLab, type ClusterLab } from './cluster-lab.js';
import { e2eInventory } from './inventory.js';
import { kubectl, waitForMirrorPods } from './kubectl.js';

let cluster: ClusterLab;
let registry: RealRegistry;
const dir = tempDir('e2e-airgap');
const home = join(dir, 'home');
const env = { KUBESTRAP_HOME: home };
const inventory = join(dir, 'inventory.yaml');
/** The same cluster with no bundle trust configured: for a bundle crafted from the signed one. */
const untrusting = join(dir, 'untrusting.yaml');
const bundle = join(dir, 'cluster.bundle');
const signingKey = join(dir, 'site-signing.key');
const otherKey = join(dir, 'other-signing.key');
const LAB_IMAGES = ['pause', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy', 'etcd'];
/** The add-ons' images, which every node runs or may run (lab images of their real binaries). */
const ADDON_IMAGES = ['flannel', 'flannel-cni-plugin', 'coredns', 'metrics-server'];
const WORKER_IMAGES = ['pause', 'kube-proxy', ...ADDON_IMAGES];

type BundleJson = { images: Array<{ name: string; platforms: Record<string, { manifest: { digest: string } }> }> };

/** registry.local/NAME:TAG of a lab image archive, as build-images.sh tagged it. */
function labTag(archive: string): string {
  const manifest = JSON.parse(execFileSync('tar', ['-xOf', archive, './manifest.json'], { encoding: 'utf8' })) as Array<{
    RepoTags: string[];
  }>;
  return manifest[0]!.RepoTags[0]!.slice(`${IMAGE_REPOSITORY}/`.length);
}

async function bundleJson(file: string): Promise<BundleJson> {
  let text = '';
  await tar.t({ file, filter: (p) => p === 'bundle.json', onReadEntry: (e) => e.on('data', (d: Buffer) => (text += d.toString())) });
  return JSON.parse(text) as BundleJson;
}

/** REF → DIGEST of containerd's k8s.io images on a node. */
async function nodeImages(node: ClusterLab['nodes'][number]): Promise<Map<string, string>> {
  const out = await cluster.lab.run(node, "ctr -n k8s.io images ls | awk 'NR > 1 {print $1, $3}'");
  return new Map(
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ') as [string, string]),
  );
}

beforeAll(async () => {
  const { images, addonImages } = ensureE2eArtifacts();
  registry = await startRegistry(join(dir, 'registry'));
  for (const name of LAB_IMAGES) await pushArchive(registry, join(images, `${name}.tar`), labTag(join(images, `${name}.tar`)));
  for (const name of ADDON_IMAGES) await pushArchive(registry, join(addonImages, `${name}.tar`), labTag(join(addonImages, `${name}.tar`)));
  cluster = await startClusterLab({ workers: 2, images: 'none' });
  for (const key of [signingKey, otherKey]) expect((await runCli(['bundle', 'keygen', '-o', key], env)).code).toBe(0);
  writeFileSync(inventory, e2eInventory(cluster, { airgap: { trustedKeys: [`${signingKey}.pub`] } }));
  writeFileSync(untrusting, e2eInventory(cluster));
}, 600_000);

/** Nothing kubestrap writes on a node is there: no upload, no manifest. */
async function untouched(): Promise<void> {
  for (const node of cluster.nodes)
    expect(await cluster.lab.run(node, 'ls /var/cache/kubestrap /etc/kubernetes/manifests 2>/dev/null | wc -l'), node.name).toBe('0\n');
}

afterAll(async () => {
  await cluster?.stop();
  await registry?.stop();
});

test("the nodes have no image and no route to the registry; bundle create pulls the cluster's images on the workstation", async () => {
  for (const node of cluster.nodes) expect((await nodeImages(node)).size, node.name).toBe(0);
  const port = registry.address.split(':')[1]!;
  const reach = await cluster.lab.run(
    cluster.workers[0]!,
    `curl -sS --max-time 5 -o /dev/null http://${cluster.lab.gateway}:${port}/v2/ 2>&1; echo "exit $?"`,
  );
  expect(reach).not.toMatch(/exit 0$/);

  const created = await runCli(
    ['bundle', 'create', '-i', inventory, '-o', bundle, '--mirror', `${IMAGE_REPOSITORY}=${registry.url}`, '--sign-key', signingKey],
    env,
  );
  expect(created.code, created.stderr).toBe(0);
  expect(created.stdout).toMatch(/wrote .*: 10 images, 3 packages; /);
  expect(created.stdout).toMatch(/^signed by key sha256:[0-9a-f]{64}$/m);
  const list = await runCli(['bundle', 'list', bundle], env);
  for (const name of LAB_IMAGES) expect(list.stdout).toContain(`${IMAGE_REPOSITORY}/${name}:`);
  const verified = await runCli(['bundle', 'verify', bundle, '--trusted-key', `${signingKey}.pub`], env);
  expect(verified.code, verified.stderr).toBe(0);
  expect(verified.stdout).toMatch(/^signed by trusted key sha256:[0-9a-f]{64}$/m);
}, 300_000);

test('the signed bundle with one changed byte in bundle.json, the same bundle unsigned, and one signed by another key are each refused before any node is touched', async () => {
  const tree = join(dir, 'resigned-tree');
  execFileSync('mkdir', ['-p', tree]);
  await tar.x({ file: bundle, cwd: tree });
  const entries = execFileSync('tar', ['-tf', bundle], { encoding: 'utf8' }).trim().split('\n');
  const repack = async (name: string, edit: () => readonly string[]) => {
    const file = join(dir, name);
    await tar.c({ file, cwd: tree, portable: true, noDirRecurse: true }, [...edit()]);
    return file;
  };
  const original = readFileSync(join(tree, 'bundle.json'));
  const signature = readFileSync(join(tree, 'bundle.sig'));
  // one byte: the space after the first colon becomes a tab (still valid JSON, same content)
  const changed = await repack('changed.bundle', () => {
    writeFileSync(join(tree, 'bundle.json'), original.toString('utf8').replace(': ', ':\t'));
    return entries;
  });
  writeFileSync(join(tree, 'bundle.json'), original);
  const unsigned = await repack('unsigned.bundle', () => entries.filter((e) => e !== 'bundle.sig'));
  const resigned = await runCli(
    [
      'bundle',
      'create',
      '-i',
      inventory,
      '-o',
      join(dir, 'other-key.bundle'),
      '--mirror',
      `${IMAGE_REPOSITORY}=${registry.url}`,
      '--sign-key',
      otherKey,
    ],
    env,
  );
  expect(resigned.code, resigned.stderr).toBe(0);
  writeFileSync(join(tree, 'bundle.sig'), signature);
  const cases: Array<[string, RegExp]> = [
    [
      changed,
      /bundle\.json does not match its signature by \S+site-signing\.key\.pub \(sha256:[0-9a-f]{64}\): it was changed after it was signed; refused \(cluster\.airgap\.trustedKeys\)/,
    ],
    [unsigned, /unsigned\.bundle is not signed \(bundle create --sign-key signs it\); refused/],
    [join(dir, 'other-key.bundle'), /other-key\.bundle is signed by key sha256:[0-9a-f]{64}, which is not trusted/],
  ];
  for (const [file, reason] of cases) {
    const refused = await runCli(['apply', '-i', inventory, '--bundle', file], env);
    expect(refused.code, file).toBe(1);
    expect(refused.stderr, file).toMatch(reason);
    expect(refused.stdout, file).not.toMatch(/connect/);
  }
  await untouched();
}, 300_000);

test("a bundle without the hosts' platform is refused at preflight, nothing changed (a test-crafted bundle: linux/arm64 only)", async () => {
  // the same bundle, its manifest saying linux/arm64 wherever it says linux/amd64, its packages
  // moved to the arm64 folder (every digest still matches)
  const crafted = join(dir, 'arm64.bundle');
  const tree = join(dir, 'arm64-tree');
  execFileSync('mkdir', ['-p', tree]);
  await tar.x({ file: bundle, cwd: tree });
  writeFileSync(
    join(tree, 'bundle.json'),
    readFileSync(join(tree, 'bundle.json'), 'utf8')
      .replaceAll('linux/amd64', 'linux/arm64')
      .replaceAll('"architecture": "amd64"', '"architecture": "arm64"')
      .replaceAll('packages/deb/amd64/', 'packages/deb/arm64/'),
  );
  renameSync(join(tree, 'packages/deb/amd64'), join(tree, 'packages/deb/arm64'));
  const entries = execFileSync('tar', ['-tf', bundle], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((e) => e.replace(/^packages\/deb\/amd64(\/|$)/, 'packages/deb/arm64$1'));
  await tar.c(
    { file: crafted, cwd: tree, portable: true, noDirRecurse: true },
    entries.filter((e) => e !== 'bundle.sig'),
  );
  // this inventory trusts no key: the crafted bundle gets past authentication (with a warning) to preflight
  const refused = await runCli(['apply', '-i', untrusting, '--bundle', crafted], env);
  expect(refused.stderr).toMatch(/warning: \S+arm64\.bundle is used without authentication/);
  expect(refused.code).toBe(1);
  expect(refused.stdout).toMatch(
    /AirgapBundle.*the bundle has no linux\/amd64 images \(it has linux\/arm64\): create it with --platform linux\/amd64/,
  );
  expect(refused.stdout).toMatch(/the bundle has no deb packages for amd64 \(it has deb\/arm64\)/);
  expect(refused.stdout + refused.stderr).toMatch(/nothing was changed/);
  await untouched();
}, 300_000);

test("apply with the bundle brings the cluster up from it: nodes Ready, every pod Running and Ready (the add-ons too), images under the bundle's digests; a second apply uploads nothing", async () => {
  const first = await runCli(['apply', '-i', inventory, '--bundle', bundle, '--wait-addons', '5m'], env);
  expect(first.code, first.stdout + first.stderr).toBe(0);
  expect(first.stdout).toMatch(/airgap-images/);
  expect(first.stderr).not.toMatch(/without authentication/);
  const kubeconfig = /^admin kubeconfig: (\S+)/m.exec(first.stdout)![1]!;
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'node', '--all', '--timeout=240s'], 260_000);
  expect((await kubectl(kubeconfig, ['get', 'nodes', '-o', 'name'])).trim().split('\n').sort()).toEqual(
    cluster.nodes.map((n) => `node/${n.name}`).sort(),
  );
  // the kubelet publishes its static pods' mirror pods a minute or two after it starts
  await waitForMirrorPods(kubeconfig, 4);
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'pod', '--all', '--all-namespaces', '--timeout=240s'], 260_000);
  const pods = JSON.parse(await kubectl(kubeconfig, ['get', 'pods', '--all-namespaces', '-o', 'json'])) as {
    items: Array<{ metadata: { name: string }; status: { phase: string } }>;
  };
  const running = pods.items
    .filter((p) => p.status.phase === 'Running')
    .map((p) =>
      p.metadata.name
        .replace(/-[a-z0-9]{5}$/, '')
        .replace(/-[a-f0-9]{8,10}$/, '')
        .replace(/-cp-1$/, ''),
    );
  expect(running.sort()).toEqual([
    'coredns',
    'coredns',
    'etcd',
    'kube-apiserver',
    'kube-controller-manager',
    'kube-flannel-ds',
    'kube-flannel-ds',
    'kube-flannel-ds',
    'kube-proxy',
    'kube-proxy',
    'kube-proxy',
    'kube-scheduler',
    'metrics-server',
    'metrics-server',
  ]);

  const manifest = await bundleJson(bundle);
  const digest = new Map(manifest.images.map((i) => [i.name, i.platforms['linux/amd64']!.manifest.digest]));
  for (const node of cluster.nodes) {
    const held = await nodeImages(node);
    const expected = node === cluster.controlPlane ? [...LAB_IMAGES, ...ADDON_IMAGES] : WORKER_IMAGES;
    const names = [...digest.keys()].filter((n) => expected.some((e) => n.startsWith(`${IMAGE_REPOSITORY}/${e}:`)));
    expect(names, node.name).toHaveLength(expected.length);
    for (const name of names) expect(held.get(name), `${node.name}: ${name}`).toBe(digest.get(name));
    // the packages came from the bundle: installed from uploads that were removed, no repository configured
    expect(
      await cluster.lab.run(
        node,
        "dpkg-query -W -f '${Version}' kubelet; test -e /var/cache/kubestrap/packages && echo ' uploads kept'; test -e /etc/apt/sources.list.d/kubernetes.list && echo ' listed'; true",
      ),
      node.name,
    ).toBe('1.20.2-1.1');
  }

  const second = await runCli(['apply', '-i', inventory, '--bundle', bundle, '--report', join(dir, 'second.json')], env);
  expect(second.code, second.stdout + second.stderr).toBe(0);
  expect(second.stdout).toMatch(/no changes/);
  const report = JSON.parse(readFileSync(join(dir, 'second.json'), 'utf8')) as { hosts: Array<{ changes: unknown[] }> };
  expect(report.hosts.flatMap((h) => h.changes)).toEqual([]);
  const log = readFileSync(/^log: (\S+)/m.exec(second.stdout)![1]!, 'utf8');
  expect(log).not.toMatch(/air-gap bundle: uploaded/);
  expect(log.match(/air-gap bundle: \d+ images present with the bundle's digests; 0 bytes to upload/g)).toHaveLength(3);
}, 900_000);

test('site registry mode: worker-2 runs the registry from the bundle; the control plane and worker-1 pull every image from it and never receive a bundle', async () => {
  await cluster.stop();
  const siteHome = join(dir, 'site-home');
  const siteEnv = { KUBESTRAP_HOME: siteHome };
  await pushArchive(registry, registryImageArchive(dir), 'registry:2.8');
  cluster = await startClusterLab({ workers: 2, images: 'none' });
  const [registryHost, puller] = [cluster.workers[1]!, cluster.workers[0]!];
  const siteInventory = join(dir, 'site.yaml');
  writeFileSync(
    siteInventory,
    e2eInventory(cluster, { airgap: { registry: { host: registryHost.name, image: `${IMAGE_REPOSITORY}/registry:2.8` } } }),
  );
  const siteBundle = join(dir, 'site.bundle');
  const created = await runCli(
    ['bundle', 'create', '-i', siteInventory, '-o', siteBundle, '--mirror', `${IMAGE_REPOSITORY}=${registry.url}`],
    siteEnv,
  );
  expect(created.code, created.stderr).toBe(0);
  expect(created.stdout).toMatch(/: 11 images, 3 packages; /);

  const first = await runCli(['apply', '-i', siteInventory, '--bundle', siteBundle], siteEnv);
  expect(first.code, first.stdout + first.stderr).toBe(0);
  const kubeconfig = /^admin kubeconfig: (\S+)/m.exec(first.stdout)![1]!;
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'node', '--all', '--timeout=240s'], 260_000);
  await waitForMirrorPods(kubeconfig, 4);
  await kubectl(kubeconfig, ['-n', 'kube-system', 'wait', '--for=condition=Ready', 'pod', '--all', '--timeout=240s'], 260_000);

  // only the registry's host received images from the workstation
  const log = readFileSync(/^log: (\S+)/m.exec(first.stdout)![1]!, 'utf8');
  const uploads = log.split('\n').filter((l) => l.includes('air-gap bundle: uploaded'));
  expect(uploads).toHaveLength(1);
  expect(uploads[0]).toContain(registryHost.name);
  // the others pulled from it: its access log, and their images under the bundle's digests
  const access = await cluster.lab.run(registryHost, 'journalctl -u kubestrap-registry --no-pager -o cat');
  // containerd resolves the tag (HEAD), then fetches the manifest and the layers by digest
  for (const [node, image] of [
    [cluster.controlPlane, 'kube-apiserver'],
    [puller, 'kube-proxy'],
  ] as const) {
    const from = node.ip.replaceAll('.', '\\.');
    expect(access, node.name).toMatch(new RegExp(`^${from} .*"HEAD /v2/${image}/manifests/v1\\.20\\.2[? ]`, 'm'));
    expect(access, node.name).toMatch(new RegExp(`^${from} .*"GET /v2/${image}/blobs/sha256:[0-9a-f]{64}[? ].*" 200 `, 'm'));
  }
  const digest = new Map((await bundleJson(siteBundle)).images.map((i) => [i.name, i.platforms['linux/amd64']!.manifest.digest]));
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'pod', '--all', '--all-namespaces', '--timeout=240s'], 260_000);
  for (const [node, expected] of [
    [cluster.controlPlane, LAB_IMAGES],
    [puller, ['pause', 'kube-proxy', 'flannel', 'flannel-cni-plugin']],
  ] as const) {
    const held = await nodeImages(node);
    for (const name of expected.map((e) => [...digest.keys()].find((n) => n.startsWith(`${IMAGE_REPOSITORY}/${e}:`))!))
      expect(held.get(name), `${node.name}: ${name}`).toBe(digest.get(name));
  }

  // the registry's certificate is from its own CA, kept on its host: no API client trusts it (R2-L5)
  const registryCert = '/etc/kubestrap/registry/tls.crt';
  expect(
    await cluster.lab.run(
      registryHost,
      `openssl verify -CAfile /etc/kubernetes/pki/ca.crt ${registryCert} >/dev/null 2>&1 && echo cluster-ca || echo not-cluster-ca`,
    ),
  ).toBe('not-cluster-ca\n');
  expect(await cluster.lab.run(registryHost, `openssl verify -CAfile /etc/kubestrap/registry-ca/ca.crt ${registryCert}`)).toMatch(/: OK$/m);
  expect(await cluster.lab.run(registryHost, 'stat -c %a /etc/kubestrap/registry-ca/ca.key')).toBe('600\n');
  for (const node of [cluster.controlPlane, puller]) {
    expect(await cluster.lab.run(node, 'test -e /etc/kubestrap/registry-ca && echo has-ca || echo no-ca'), node.name).toBe('no-ca\n');
    expect(await cluster.lab.run(node, `cat /etc/containerd/certs.d/${IMAGE_REPOSITORY}/kubestrap-site-registry-ca.crt`), node.name).toBe(
      await cluster.lab.run(registryHost, 'cat /etc/kubestrap/registry-ca/ca.crt'),
    );
  }

  const second = await runCli(['apply', '-i', siteInventory, '--bundle', siteBundle, '--report', join(dir, 'site-second.json')], siteEnv);
  expect(second.code, second.stdout + second.stderr).toBe(0);
  const report = JSON.parse(readFileSync(join(dir, 'site-second.json'), 'utf8')) as { hosts: Array<{ changes: unknown[] }> };
  expect(report.hosts.flatMap((h) => h.changes)).toEqual([]);
}, 900_000);
