/**
 * The e2e lab as an air-gapped site: nodes start with no Kubernetes image at all, and the
 * registry that plays the internet (Debian's Distribution registry with token auth, loaded with
 * the lab's images by skopeo) listens on this machine's loopback, which no node can reach.
 * `bundle create` pulls from it on the workstation; `apply` with the bundle brings up
 * 1 control plane + 2 workers: nodes Ready, the control plane's pods and kube-proxy Running,
 * containerd holding the images under the bundle's digests; a second apply uploads nothing.
 * Then site registry mode on a fresh lab: one worker runs the registry from the bundle (Debian's
 * docker-registry packed as an image stands in for docker.io/library/registry), and the other
 * nodes pull from it.
 * CoreDNS, metrics-server and the CNI's images cannot be built here: those add-ons are off, and
 * the lab's own pod network stands in for the CNI (cluster-lab.ts).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { runCli, tempDir } from '../lab/helpers.js';
import { pushArchive, registryImageArchive, startRegistry, type RealRegistry } from '../unit/real-registry.js';
import { ensureE2eArtifacts, IMAGE_REPOSITORY, startClusterLab, type ClusterLab } from './cluster-lab.js';
import { e2eInventory } from './inventory.js';
import { kubectl, waitFor } from './kubectl.js';

let cluster: ClusterLab;
let registry: RealRegistry;
const dir = tempDir('e2e-airgap');
const home = join(dir, 'home');
const env = { KUBESTRAP_HOME: home };
const inventory = join(dir, 'inventory.yaml');
const bundle = join(dir, 'cluster.bundle');
const LAB_IMAGES = ['pause', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy', 'etcd'];

type BundleJson = { images: Array<{ name: string; platforms: Record<string, { manifest: { digest: string } }> }> };

/** registry.local/NAME:TAG of a lab image archive, as build-images.sh tagged it. */
function labTag(archive: string): string {
  const manifest = JSON.parse(execFileSync('tar', ['-xOf', archive, './manifest.json'], { encoding: 'utf8' })) as Array<{ RepoTags: string[] }>;
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
  return new Map(out.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
}

beforeAll(async () => {
  const { images } = ensureE2eArtifacts();
  registry = await startRegistry(join(dir, 'registry'));
  for (const name of LAB_IMAGES) await pushArchive(registry, join(images, `${name}.tar`), labTag(join(images, `${name}.tar`)));
  cluster = await startClusterLab({ workers: 2, withCni: true, images: 'none' });
  writeFileSync(inventory, e2eInventory(cluster, { cni: { plugin: 'none' }, addons: { coreDNS: false, metricsServer: false } }));
}, 600_000);

afterAll(async () => {
  await cluster?.stop();
  await registry?.stop();
});

test('the nodes have no image and no route to the registry; bundle create pulls the cluster\'s images on the workstation', async () => {
  for (const node of cluster.nodes) expect((await nodeImages(node)).size, node.name).toBe(0);
  const port = registry.address.split(':')[1]!;
  const reach = await cluster.lab.run(cluster.workers[0]!, `curl -sS --max-time 5 -o /dev/null http://${cluster.lab.gateway}:${port}/v2/ 2>&1; echo "exit $?"`);
  expect(reach).not.toMatch(/exit 0$/);

  const created = await runCli(['bundle', 'create', '-i', inventory, '-o', bundle, '--mirror', `${IMAGE_REPOSITORY}=${registry.url}`], env);
  expect(created.code, created.stderr).toBe(0);
  expect(created.stdout).toMatch(/wrote .*: 6 images, 3 packages; /);
  const list = await runCli(['bundle', 'list', bundle], env);
  for (const name of LAB_IMAGES) expect(list.stdout).toContain(`${IMAGE_REPOSITORY}/${name}:`);
}, 300_000);

test('a bundle without the hosts\' platform is refused at preflight, nothing changed (a test-crafted bundle: linux/arm64 only)', async () => {
  // the same bundle, its manifest saying linux/arm64 wherever it says linux/amd64 (every digest still matches)
  const crafted = join(dir, 'arm64.bundle');
  const tree = join(dir, 'arm64-tree');
  execFileSync('mkdir', ['-p', tree]);
  await tar.x({ file: bundle, cwd: tree });
  writeFileSync(join(tree, 'bundle.json'), readFileSync(join(tree, 'bundle.json'), 'utf8').replaceAll('linux/amd64', 'linux/arm64').replaceAll('"architecture": "amd64"', '"architecture": "arm64"'));
  const entries = execFileSync('tar', ['-tf', bundle], { encoding: 'utf8' }).trim().split('\n');
  await tar.c({ file: crafted, cwd: tree, portable: true, noDirRecurse: true }, entries);
  const refused = await runCli(['apply', '-i', inventory, '--bundle', crafted], env);
  expect(refused.code).toBe(1);
  expect(refused.stdout).toMatch(/AirgapBundle.*the bundle has no linux\/amd64 images \(it has linux\/arm64\): create it with --platform linux\/amd64/);
  expect(refused.stdout).toMatch(/the bundle has no deb packages for amd64 \(it has deb\/arm64\)/);
  expect(refused.stdout + refused.stderr).toMatch(/nothing was changed/);
  for (const node of cluster.nodes) expect(await cluster.lab.run(node, 'ls /var/cache/kubestrap /etc/kubernetes/manifests 2>/dev/null | wc -l'), node.name).toBe('0\n');
}, 300_000);

test('apply with the bundle brings the cluster up from it: nodes Ready, pods Running, images under the bundle\'s digests; a second apply uploads nothing', async () => {
  const first = await runCli(['apply', '-i', inventory, '--bundle', bundle], env);
  expect(first.code, first.stdout + first.stderr).toBe(0);
  expect(first.stdout).toMatch(/airgap-images/);
  const kubeconfig = /^admin kubeconfig: (\S+)/m.exec(first.stdout)![1]!;
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'node', '--all', '--timeout=240s'], 260_000);
  expect((await kubectl(kubeconfig, ['get', 'nodes', '-o', 'name'])).trim().split('\n').sort()).toEqual(cluster.nodes.map((n) => `node/${n.name}`).sort());
  // the kubelet publishes its static pods' mirror pods a minute or two after it starts
  await waitFor(async () => (await kubectl(kubeconfig, ['get', 'pods', '-n', 'kube-system', '-l', 'tier=control-plane', '-o', 'name'])).trim().split('\n').filter(Boolean).length === 4, 240_000);
  await kubectl(kubeconfig, ['-n', 'kube-system', 'wait', '--for=condition=Ready', 'pod', '--all', '--timeout=240s'], 260_000);
  const pods = JSON.parse(await kubectl(kubeconfig, ['-n', 'kube-system', 'get', 'pods', '-o', 'json'])) as { items: Array<{ metadata: { name: string }; status: { phase: string } }> };
  const running = pods.items.filter((p) => p.status.phase === 'Running').map((p) => p.metadata.name.replace(/-[a-z0-9]{5}$/, '').replace(/-cp-1$/, ''));
  expect(running.sort()).toEqual(['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-proxy', 'kube-proxy', 'kube-proxy', 'kube-scheduler']);

  const manifest = await bundleJson(bundle);
  const digest = new Map(manifest.images.map((i) => [i.name, i.platforms['linux/amd64']!.manifest.digest]));
  for (const node of cluster.nodes) {
    const held = await nodeImages(node);
    const expected = node === cluster.controlPlane ? LAB_IMAGES : ['pause', 'kube-proxy'];
    const names = [...digest.keys()].filter((n) => expected.some((e) => n.startsWith(`${IMAGE_REPOSITORY}/${e}:`)));
    expect(names, node.name).toHaveLength(expected.length);
    for (const name of names) expect(held.get(name), `${node.name}: ${name}`).toBe(digest.get(name));
    // the packages came from the bundle: uploaded files, no repository configured
    expect(await cluster.lab.run(node, 'ls /var/cache/kubestrap/packages; test -e /etc/apt/sources.list.d/kubernetes.list && echo listed || true'), node.name).toMatch(/^kubelet_1\.20\.2-1\.1_amd64\.deb$(?![\s\S]*listed)/m);
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
  cluster = await startClusterLab({ workers: 2, withCni: true, images: 'none' });
  const [registryHost, puller] = [cluster.workers[1]!, cluster.workers[0]!];
  const siteInventory = join(dir, 'site.yaml');
  writeFileSync(
    siteInventory,
    e2eInventory(cluster, { cni: { plugin: 'none' }, addons: { coreDNS: false, metricsServer: false }, airgap: { registry: { host: registryHost.name, image: `${IMAGE_REPOSITORY}/registry:2.8` } } }),
  );
  const siteBundle = join(dir, 'site.bundle');
  const created = await runCli(['bundle', 'create', '-i', siteInventory, '-o', siteBundle, '--mirror', `${IMAGE_REPOSITORY}=${registry.url}`], siteEnv);
  expect(created.code, created.stderr).toBe(0);
  expect(created.stdout).toMatch(/: 7 images, 3 packages; /);

  const first = await runCli(['apply', '-i', siteInventory, '--bundle', siteBundle], siteEnv);
  expect(first.code, first.stdout + first.stderr).toBe(0);
  const kubeconfig = /^admin kubeconfig: (\S+)/m.exec(first.stdout)![1]!;
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'node', '--all', '--timeout=240s'], 260_000);
  await waitFor(async () => (await kubectl(kubeconfig, ['get', 'pods', '-n', 'kube-system', '-l', 'tier=control-plane', '-o', 'name'])).trim().split('\n').filter(Boolean).length === 4, 240_000);
  await kubectl(kubeconfig, ['-n', 'kube-system', 'wait', '--for=condition=Ready', 'pod', '--all', '--timeout=240s'], 260_000);

  // only the registry's host received images from the workstation
  const log = readFileSync(/^log: (\S+)/m.exec(first.stdout)![1]!, 'utf8');
  const uploads = log.split('\n').filter((l) => l.includes('air-gap bundle: uploaded'));
  expect(uploads).toHaveLength(1);
  expect(uploads[0]).toContain(registryHost.name);
  // the others pulled from it: its access log, and their images under the bundle's digests
  const access = await cluster.lab.run(registryHost, 'journalctl -u kubestrap-registry --no-pager -o cat');
  // containerd resolves the tag (HEAD), then fetches the manifest and the layers by digest
  for (const [node, image] of [[cluster.controlPlane, 'kube-apiserver'], [puller, 'kube-proxy']] as const) {
    const from = node.ip.replaceAll('.', '\\.');
    expect(access, node.name).toMatch(new RegExp(`^${from} .*"HEAD /v2/${image}/manifests/v1\\.20\\.2[? ]`, 'm'));
    expect(access, node.name).toMatch(new RegExp(`^${from} .*"GET /v2/${image}/blobs/sha256:[0-9a-f]{64}[? ].*" 200 `, 'm'));
  }
  const digest = new Map((await bundleJson(siteBundle)).images.map((i) => [i.name, i.platforms['linux/amd64']!.manifest.digest]));
  for (const [node, expected] of [[cluster.controlPlane, LAB_IMAGES], [puller, ['pause', 'kube-proxy']]] as const) {
    const held = await nodeImages(node);
    for (const name of expected.map((e) => [...digest.keys()].find((n) => n.startsWith(`${IMAGE_REPOSITORY}/${e}:`))!)) expect(held.get(name), `${node.name}: ${name}`).toBe(digest.get(name));
  }

  const second = await runCli(['apply', '-i', siteInventory, '--bundle', siteBundle, '--report', join(dir, 'site-second.json')], siteEnv);
  expect(second.code, second.stdout + second.stderr).toBe(0);
  const report = JSON.parse(readFileSync(join(dir, 'site-second.json'), 'utf8')) as { hosts: Array<{ changes: unknown[] }> };
  expect(report.hosts.flatMap((h) => h.changes)).toEqual([]);
}, 900_000);
