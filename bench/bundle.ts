/**
 * The air-gap bundle on the e2e lab's release (1.20.2, the lab's images in a real Distribution
 * registry on loopback): how big the bundle is, how long `bundle create` takes with an empty
 * and with a warm cache, and how long one control plane takes to receive and import its images
 * through `apply --only airgap-images`, side by side with what operators script instead (the
 * KubeKey/kubeasz way: each image's docker-archive tarball streamed over ssh into
 * `ctr -n k8s.io images import -`, one after another), on a second fresh node.
 * Run: npm run bench:bundle
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../src/cli/main.js';
import { tempDir } from '../test/lab/helpers.js';
import { ensureE2eArtifacts, IMAGE_REPOSITORY, startClusterLab } from '../test/e2e/cluster-lab.js';
import { e2eInventory } from '../test/e2e/inventory.js';
import { pushArchive, startRegistry } from '../test/unit/real-registry.js';

const CONTROL_PLANE_IMAGES = ['pause', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy', 'etcd'];
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

async function timed(what: () => Promise<number>): Promise<number> {
  const started = Date.now();
  const code = await what();
  if (code !== 0) throw new Error(`exit code ${code}`);
  return Date.now() - started;
}

const dir = tempDir('bench-bundle');
const { images } = ensureE2eArtifacts();
const registry = await startRegistry(join(dir, 'registry'));
const cluster = await startClusterLab({ workers: 1, images: 'none' });
try {
  for (const name of CONTROL_PLANE_IMAGES) {
    const archive = join(images, `${name}.tar`);
    const tag = (
      JSON.parse(execFileSync('tar', ['-xOf', archive, './manifest.json'], { encoding: 'utf8' })) as Array<{ RepoTags: string[] }>
    )[0]!.RepoTags[0]!;
    await pushArchive(registry, archive, tag.slice(`${IMAGE_REPOSITORY}/`.length));
  }
  const inventory = join(dir, 'inventory.yaml');
  writeFileSync(inventory, e2eInventory(cluster, { cni: { plugin: 'none' }, addons: { coreDNS: false, metricsServer: false } }));
  const bundle = join(dir, 'cluster.bundle');
  process.env.KUBESTRAP_HOME = join(dir, 'home');
  const create = () =>
    main(['node', 'kubestrap', 'bundle', 'create', '-i', inventory, '-o', bundle, '--mirror', `${IMAGE_REPOSITORY}=${registry.url}`]);
  const cold = await timed(create);
  const warm = await timed(create);
  const upload = await timed(() =>
    main([
      'node',
      'kubestrap',
      'apply',
      '-i',
      inventory,
      '--bundle',
      bundle,
      '--hosts',
      cluster.controlPlane.name,
      '--only',
      'airgap-images',
      '--output',
      'silent',
    ]),
  );

  const worker = cluster.workers[0]!;
  const byHandStarted = Date.now();
  let tarBytes = 0;
  for (const name of CONTROL_PLANE_IMAGES) {
    const archive = join(images, `${name}.tar`);
    tarBytes += statSync(archive).size;
    const r = spawnSync(
      'sh',
      [
        '-c',
        `ssh -q -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -i ${cluster.lab.clientKey} root@${worker.ip} 'ctr -n k8s.io images import - >/dev/null' < ${archive}`,
      ],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`ssh import of ${name}: ${r.stderr}`);
  }
  const byHand = Date.now() - byHandStarted;

  console.log(
    `bundle for Kubernetes ${cluster.kubernetesVersion} (${CONTROL_PLANE_IMAGES.length} images, 3 packages): ${mib(statSync(bundle).size)}`,
  );
  console.log(`bundle create: ${s(cold)} with an empty cache, ${s(warm)} with a warm one (nothing downloaded)`);
  console.log(`one control plane's images (${mib(tarBytes)} as docker archives):`);
  console.log(`  kubestrap apply --only airgap-images (connect, plan, one verified stream, import): ${s(upload)}`);
  console.log(`  by hand, ssh + ctr images import per tarball, one after another:                  ${s(byHand)} (no digest check)`);
} finally {
  await cluster.stop();
  await registry.stop();
}
