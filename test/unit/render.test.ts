/**
 * `kubestrap render` for seven releases, compared with golden files (test/golden/<version>/),
 * and every rendered API object and static pod validated against the Kubernetes schemas of
 * kubernetes-models 4.5 (its newest release that runs on Node 20; 5.x needs Node 22), and checked for fields those types do not declare (its validators
 * accept unknown fields; unknown-fields.ts walks the package's type declarations). On 1.20 the
 * e2e suite checks the same against a real API server: it drops undeclared fields, and the
 * zero-change re-apply compares every field sent with the live object.
 *
 * The goldens were read once by hand against kubeadm-spec (§4 flags, probes, volumes, requests;
 * §6 objects; §9 kubelet files; §10 add-ons):
 * - v1.20.2: the manifests equal the reference kubeadm 1.20.2's own output (control-plane-kubeadm
 *   test); insecure-port/port=0, /health etcd probes, master label and taint, kubelet-config-1.20.
 * - v1.23.17: as 1.20 plus the 1.22+ etcd probes (/health?exclude=NOSPACE&serializable=true,
 *   startup /health?serializable=false), no etcd ephemeral-storage request, CoreDNS v1.8.6.
 * - v1.33.1: no insecure ports, seccompProfile RuntimeDefault and priority 2000001000, etcd
 *   /livez + /readyz probes with readiness, corrupt-check and watch-progress flags,
 *   super-admin.conf, kubeadm:cluster-admins binding, control-plane taint only, kubelet-config
 *   without suffix, --pod-infra-container-image, CoreDNS cache block with disable success/denial;
 *   scheduler /livez + /readyz (1.32+), kubeadm-config v1beta4 without empty extraArgs.
 * - v1.34.x–v1.37.x: the lab inventory (inventories/lab-e2e.yaml) at that release with kubeadm's
 *   etcd, plus failCgroupV1: false from 1.35 (the lab's hosts are cgroup v1): named probe-port
 *   probes, etcd 3.6/3.7 flags (feature-gates=InitialCorruptCheck=true,
 *   watch-progress-notify-interval), instance-config.yaml and containerRuntimeEndpoint in
 *   config.yaml, no --container-runtime-endpoint (1.34), no --pod-infra-container-image (1.35),
 *   no flex-volume mount (1.36), containerd config version 3 (1.36+, no containerd 1.x serves
 *   them), the kubeadm:apiserver-kubelet-client binding (1.37.x and the patches of #138957).
 * Regenerate with UPDATE_GOLDEN=1 after a deliberate change, and read the diff.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse, stringify } from 'yaml';
import { parseInventory } from '../../src/inventory/load.js';
import { renderCluster, type RenderedFile } from '../../src/render/render.js';
import { SUPPORTED_MINORS } from '../../src/util/version.js';
import { kindDeclaration, unknownFields } from './unknown-fields.js';
import { tempDir } from '../lab/helpers.js';

const GOLDEN = join(__dirname, '..', 'golden');
const FIXTURE_CALICO = join(__dirname, '..', 'fixtures', 'calico-minimal.yaml');

/** The three example inventories, with the 1.23 runbook's Calico manifest pointed at the stand-in fixture. */
async function inventoryFor(version: string) {
  const file = { 'v1.20.2': 'lab-e2e.yaml', 'v1.23.17': '1cp-2workers.yaml', 'v1.33.1': 'single-node.yaml' }[version] ?? 'lab-e2e.yaml';
  const doc = parse(readFileSync(join(__dirname, '..', '..', 'inventories', file), 'utf8')) as {
    cluster: {
      kubernetesVersion: string;
      cni?: { calicoManifest?: string };
      etcd?: { imageTag?: string };
      kubelet?: { failCgroupV1?: boolean };
    };
  };
  if (doc.cluster.cni?.calicoManifest) doc.cluster.cni.calicoManifest = FIXTURE_CALICO;
  // single-node.yaml follows the newest release; its golden stays the 1.33 one
  doc.cluster.kubernetesVersion = version;
  if (!['v1.20.2', 'v1.23.17', 'v1.33.1'].includes(version)) {
    // the lab inventory at a release it cannot run here: kubeadm's own etcd, and cgroup v1 kept from 1.35
    delete doc.cluster.etcd;
    if (Number(version.split('.')[1]) >= 35) doc.cluster.kubelet = { failCgroupV1: false };
  }
  return (await parseInventory(stringify(doc), file, { checkKeyFiles: false })).inventory;
}

// Keys, certificates and kubeconfigs are random at every render; so is the CA inside cluster-info.
const isRandom = (f: RenderedFile) =>
  /\/etc\/kubernetes\/(pki\/|[a-z-]+\.conf$)/.test(f.path) || f.path.includes('configmap-kube-public-cluster-info');

const NEW_RELEASES = ['v1.34.8', 'v1.35.5', 'v1.36.1', 'v1.37.1'];
const VERSIONS = ['v1.20.2', 'v1.23.17', 'v1.33.1', ...NEW_RELEASES];
const rendered = new Map<string, RenderedFile[]>();

async function render(version: string): Promise<RenderedFile[]> {
  if (!rendered.has(version)) {
    rendered.set(version, await renderCluster(await inventoryFor(version), tempDir('render')));
  }
  return rendered.get(version)!;
}

describe.each(VERSIONS)('render %s', (version) => {
  test('every non-random file equals its golden copy', async () => {
    const files = (await render(version)).filter((f) => !isRandom(f));
    const dir = join(GOLDEN, version);
    if (process.env.UPDATE_GOLDEN) {
      rmSync(dir, { recursive: true, force: true });
      for (const f of files) {
        mkdirSync(dirname(join(dir, f.path)), { recursive: true });
        writeFileSync(join(dir, f.path), f.content);
      }
    }
    for (const f of files) {
      const golden = join(dir, f.path);
      expect(existsSync(golden), `${f.path} has no golden copy (UPDATE_GOLDEN=1 creates it)`).toBe(true);
      expect(f.content, f.path).toBe(readFileSync(golden, 'utf8'));
    }
  });
});

/** Every supported minor, not only the golden ones: the lab inventory at that release. */
const EVERY_MINOR = Array.from(
  { length: SUPPORTED_MINORS.max - SUPPORTED_MINORS.min + 1 },
  (_, i) => VERSIONS.find((v) => v.startsWith(`v1.${SUPPORTED_MINORS.min + i}.`)) ?? `v1.${SUPPORTED_MINORS.min + i}.0`,
);

describe.each(EVERY_MINOR)('render %s', (version) => {
  test('every API object and static pod validates against the Kubernetes schemas of kubernetes-models and has no field they do not declare', async () => {
    const files = await render(version);
    const objects = files
      .filter((f) => f.path.startsWith('cluster/') || f.path.includes('/etc/kubernetes/manifests/'))
      .map((f) => ({ path: f.path, object: parse(f.content) as { apiVersion: string; kind: string } }));
    expect(objects.length).toBeGreaterThan(30);
    for (const { path, object } of objects) {
      const group = object.apiVersion.includes('/') ? object.apiVersion : `${object.apiVersion}`;
      const mod = (await import(/* @vite-ignore */ `kubernetes-models/${group}/${object.kind}`)) as Record<
        string,
        new (o: unknown) => { validate(): void }
      >;
      const Model = mod[object.kind]!;
      expect(() => new Model(object).validate(), path).not.toThrow();
      expect(unknownFields(object, kindDeclaration(object.apiVersion, object.kind)), path).toEqual([]);
    }
  });
});

test('the Calico manifest is adapted: the pod CIDR in CALICO_IPV4POOL_CIDR, images from the CNI mirror', async () => {
  const inv = await inventoryFor('v1.23.17');
  const files = await renderCluster(
    { ...inv, cluster: { ...inv.cluster, cni: { ...inv.cluster.cni, imageRepository: 'mirror.example.com/calico', mtu: 1440 } } },
    tempDir('render'),
  );
  const node = parse(files.find((f) => f.path.includes('daemonset-kube-system-calico-node'))!.content) as {
    spec: {
      template: {
        spec: {
          containers: Array<{ image: string; env: Array<{ name: string; value: string }> }>;
          initContainers: Array<{ image: string }>;
        };
      };
    };
  };
  const container = node.spec.template.spec.containers[0]!;
  expect(container.env).toContainEqual({ name: 'CALICO_IPV4POOL_CIDR', value: inv.cluster.networking.podSubnet });
  expect(container.image).toBe('mirror.example.com/calico/node:v3.25.2');
  expect(node.spec.template.spec.initContainers[0]!.image).toBe('mirror.example.com/calico/cni:v3.25.2');
  expect(files.find((f) => f.path.includes('configmap-kube-system-calico-config'))!.content).toContain('veth_mtu: "1440"');
});

test('the unknown-field check finds a misspelt field deep in a rendered Deployment', async () => {
  const file = (await render('v1.33.1')).find((f) => f.path.includes('deployment-kube-system-coredns'))!;
  const deployment = parse(file.content) as { spec: { template: { spec: { containers: Array<Record<string, unknown>> } } } };
  expect(unknownFields(deployment, kindDeclaration('apps/v1', 'Deployment'))).toEqual([]);
  deployment.spec.template.spec.containers[0]!.imagePullPolicyy = 'IfNotPresent';
  expect(unknownFields(deployment, kindDeclaration('apps/v1', 'Deployment'))).toEqual([
    '.spec.template.spec.containers[0].imagePullPolicyy',
  ]);
});
