/**
 * kubestrap brings the control plane up on real nodes from its own PKI, manifests and kubelet
 * configuration, creates kubeadm's bootstrap objects and the add-ons, and a second apply changes
 * nothing. The workers then join with the printed join command through the reference kubeadm
 * 1.20.2 (kubestrap's cluster carries every object kubeadm's join reads).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, test } from 'vitest';
import { parseToken } from '../../src/pki/bootstrap-token.js';
import { verifyDetached } from '../../src/pki/jws.js';
import { runCli, tempDir } from '../lab/helpers.js';
import { askBootstrapRbac, expectedBootstrapRbac } from './bootstrap-rbac.js';
import { type ClusterLab } from './cluster-lab.js';
import { startWithInventory } from './inventory.js';
import { busyboxPod, kubectl, waitForMirrorPods } from './kubectl.js';

let cluster: ClusterLab;
let inventory: string;
const home = tempDir('e2e-home');
const env = { KUBESTRAP_HOME: home };
let applyOutput = '';

beforeAll(async () => {
  ({ cluster, inventory } = await startWithInventory('e2e-cp', { workers: 2 }));
  return () => cluster.stop();
});

const savedPath = (output: string, what: RegExp) => what.exec(output)?.[1] ?? '';

test("kubestrap apply brings the control plane up from its own PKI and manifests: node Ready, the four control-plane pods Running, kube-proxy running, CoreDNS, Flannel and metrics-server accepted, this kubelet's serving certificate approved", async () => {
  // the workers join later through the printed kubeadm command (kubestrap's own join: join.test.ts)
  const result = await runCli(['apply', '-i', inventory, '--skip', 'join'], env);
  applyOutput = result.stdout;
  expect(result.code, result.stdout + result.stderr).toBe(0);
  const kubeconfig = savedPath(applyOutput, /^admin kubeconfig: (\S+)/m);
  expect(kubeconfig.startsWith(home)).toBe(true);
  expect(readFileSync(kubeconfig, 'utf8')).toMatch(/current-context: kubernetes-admin@10\.77\.\d+\.10_6443/);
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', `node/${cluster.controlPlane.name}`, '--timeout=240s'], 260_000);
  // the kubelet publishes its static pods' mirror pods a minute or two after it starts
  await waitForMirrorPods(kubeconfig, 4);
  await kubectl(
    kubeconfig,
    ['wait', '--for=condition=Ready', 'pod', '-n', 'kube-system', '-l', 'tier=control-plane', '--timeout=240s'],
    260_000,
  );
  const pods = JSON.parse(await kubectl(kubeconfig, ['get', 'pods', '-n', 'kube-system', '-l', 'tier=control-plane', '-o', 'json'])) as {
    items: Array<{ metadata: { labels: Record<string, string> }; status: { phase: string } }>;
  };
  expect(pods.items.map((p) => `${p.metadata.labels.component} ${p.status.phase}`).sort()).toEqual([
    'etcd Running',
    'kube-apiserver Running',
    'kube-controller-manager Running',
    'kube-scheduler Running',
  ]);
  const node = JSON.parse(await kubectl(kubeconfig, ['get', 'node', cluster.controlPlane.name, '-o', 'json'])) as {
    metadata: { labels: Record<string, string> };
    spec: { taints?: Array<{ key: string; effect: string }> };
  };
  expect(node.metadata.labels).toHaveProperty('node-role.kubernetes.io/control-plane', '');
  expect(node.metadata.labels).toHaveProperty('node-role.kubernetes.io/master', '');
  expect(node.spec.taints).toContainEqual(expect.objectContaining({ key: 'node-role.kubernetes.io/master', effect: 'NoSchedule' }));
  // add-ons: accepted by the API server (CoreDNS's image cannot be built here, so its pods wait)
  const addons = await kubectl(kubeconfig, [
    'get',
    '-n',
    'kube-system',
    'daemonset/kube-proxy',
    'deployment/coredns',
    'service/kube-dns',
    'configmap/kube-proxy',
    'configmap/coredns',
    'deployment/metrics-server',
    'service/metrics-server',
    '-o',
    'name',
  ]);
  expect(addons.trim().split('\n').sort()).toEqual([
    'configmap/coredns',
    'configmap/kube-proxy',
    'daemonset.apps/kube-proxy',
    'deployment.apps/coredns',
    'deployment.apps/metrics-server',
    'service/kube-dns',
    'service/metrics-server',
  ]);
  const more = await kubectl(kubeconfig, [
    'get',
    'apiservice/v1beta1.metrics.k8s.io',
    'daemonset/kube-flannel-ds',
    'configmap/kube-flannel-cfg',
    '-n',
    'kube-flannel',
    '-o',
    'name',
  ]);
  expect(more.trim().split('\n').sort()).toEqual([
    'apiservice.apiregistration.k8s.io/v1beta1.metrics.k8s.io',
    'configmap/kube-flannel-cfg',
    'daemonset.apps/kube-flannel-ds',
  ]);
  expect(
    await kubectl(kubeconfig, ['get', 'configmap/kube-flannel-cfg', '-n', 'kube-flannel', '-o', 'jsonpath={.data.net-conf\\.json}']),
  ).toContain('"Network": "10.244.0.0/16"');
  // metrics-server trusts kubelet serving certificates: kubestrap approved this kubelet's request
  const csrs = JSON.parse(await kubectl(kubeconfig, ['get', 'csr', '-o', 'json'])) as {
    items: Array<{ spec: { signerName: string; username: string }; status: { conditions?: Array<{ type: string; reason: string }> } }>;
  };
  const serving = csrs.items.filter(
    (c) => c.spec.signerName === 'kubernetes.io/kubelet-serving' && c.spec.username === `system:node:${cluster.controlPlane.name}`,
  );
  expect(serving.flatMap((c) => c.status.conditions ?? []).map((c) => `${c.type} ${c.reason}`)).toContain('Approved KubestrapApprove');
  expect((await kubectl(kubeconfig, ['get', 'service', 'kube-dns', '-n', 'kube-system', '-o', 'jsonpath={.spec.clusterIP}'])).trim()).toBe(
    '10.96.0.10',
  );
  await kubectl(kubeconfig, ['rollout', 'status', 'daemonset/kube-proxy', '-n', 'kube-system', '--timeout=180s'], 200_000);
});

test("the controller-manager signs cluster-info for kubestrap's join token and kubestrap's verifier accepts the signature; bootstrap RBAC answers as kubeadm's does", async () => {
  const kubeconfig = savedPath(applyOutput, /^admin kubeconfig: (\S+)/m);
  const joinCommand = savedPath(applyOutput, /^\s+(kubeadm join .+)$/m);
  const token = parseToken(/--token (\S+)/.exec(joinCommand)![1]!);
  let data: Record<string, string> = {};
  for (let i = 0; i < 60 && !data[`jws-kubeconfig-${token.id}`]; i++) {
    data = JSON.parse(
      await kubectl(kubeconfig, ['get', 'configmap', 'cluster-info', '-n', 'kube-public', '-o', 'jsonpath={.data}']),
    ) as Record<string, string>;
    if (!data[`jws-kubeconfig-${token.id}`]) await new Promise((r) => setTimeout(r, 1000));
  }
  const signature = data[`jws-kubeconfig-${token.id}`]!;
  expect(signature).toBeTruthy();
  expect(verifyDetached(signature, data.kubeconfig!, token)).toBe(true);
  expect(verifyDetached(signature, `${data.kubeconfig!} `, token)).toBe(false);
  expect(await askBootstrapRbac(kubeconfig)).toEqual(expectedBootstrapRbac());
});

test('the workers join with the printed join command (reference kubeadm 1.20.2 on the node): 3 nodes Ready, a pod Running on each worker', async () => {
  const kubeconfig = savedPath(applyOutput, /^admin kubeconfig: (\S+)/m);
  const joinCommand = savedPath(applyOutput, /^\s+(kubeadm join .+)$/m);
  await Promise.all(
    cluster.workers.map((w) =>
      cluster.lab.run(
        w,
        `apt-get install -y -qq kubeadm=1.20.2-1.1 >/dev/null && ${joinCommand} --cri-socket /run/containerd/containerd.sock --ignore-preflight-errors=SystemVerification >/root/join.log 2>&1 || { tail -30 /root/join.log >&2; exit 1; }`,
      ),
    ),
  );
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'node', '--all', '--timeout=240s'], 260_000);
  for (const w of cluster.workers) {
    const file = join(home, `probe-${w.name}.json`);
    writeFileSync(file, busyboxPod(`probe-${w.name}`, w.name));
    await kubectl(kubeconfig, ['apply', '-f', file]);
  }
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'pod', '-l', 'app=kubestrap-e2e', '--timeout=180s'], 200_000);
  const nodes = (await kubectl(kubeconfig, ['get', 'nodes', '-o', 'name'])).trim().split('\n').sort();
  expect(nodes).toEqual(cluster.nodes.map((n) => `node/${n.name}`).sort());
});

test("the next apply approves the joined workers' serving certificates (and only theirs); the one after changes nothing", async () => {
  const approve = await runCli(['apply', '-i', inventory], env);
  expect(approve.code, approve.stdout + approve.stderr).toBe(0);
  const approved = [...approve.stdout.matchAll(/approve (\S+)'s kubelet serving certificate/g)].map((m) => m[1]).sort();
  expect(approved).toEqual(cluster.workers.map((w) => w.name).sort());
  expect(approve.stdout).toMatch(/Applied: 2 changes on 1 host/);
  const again = await runCli(['apply', '-i', inventory], env);
  expect(again.code, again.stdout + again.stderr).toBe(0);
  expect(again.stdout).toContain('Applied: no changes were needed.');
});
