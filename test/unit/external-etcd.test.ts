/**
 * etcd.external (#19): what kubestrap renders, generates, refuses and leaves alone when the
 * cluster's etcd is not stacked on its control planes — the API server's flags and kubeadm's
 * etcd-certs-N volumes, no etcd manifest or etcd PKI, kubeadm-config's etcd.external, the
 * validation of the section, and a reset that keeps /var/lib/etcd.
 */
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { InventoryError } from '../../src/inventory/issues.js';
import { parseInventory } from '../../src/inventory/load.js';
import { resolveHosts } from '../../src/inventory/resolve.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { externalEtcdProblem } from '../../src/etcd/external.js';
import { clusterConfiguration, clusterConfigurationYaml, readKubeadmConfig } from '../../src/kube/kubeadm-config.js';
import { controlPlaneInput } from '../../src/kube/node-files.js';
import { buildClusterPki } from '../../src/pki/cluster-pki.js';
import { clusterPki, pkiNodes } from '../../src/pki/from-inventory.js';
import { findLeftovers, removeLeftovers } from '../../src/reset/leftovers.js';
import { controlPlanePods } from '../../templates/control-plane.js';

const KUBESPRAY = {
  endpoints: ['https://10.0.0.11:2379', 'https://10.0.0.12:2379'],
  caFile: '/etc/ssl/etcd/ssl/ca.pem',
  certFile: '/etc/ssl/etcd/ssl/node-cp-1.pem',
  keyFile: '/etc/ssl/etcd/ssl/node-cp-1-key.pem',
};

function text(version: string, etcd: string): string {
  return `apiVersion: kubestrap.dev/v1alpha1
kind: Cluster
hosts:
  - {name: cp-1, address: 10.0.0.1, roles: [control-plane]}
  - {name: worker-1, address: 10.0.0.3, roles: [worker]}
cluster:
  kubernetesVersion: ${version}
  etcd:
${etcd}`;
}

const externalYaml = (e: typeof KUBESPRAY) =>
  `    external:\n      endpoints: [${e.endpoints.join(', ')}]\n      caFile: ${e.caFile}\n      certFile: ${e.certFile}\n      keyFile: ${e.keyFile}\n`;

async function inventory(version: string, external = KUBESPRAY): Promise<Inventory> {
  return (await parseInventory(text(version, externalYaml(external)), 'cluster.yaml', { checkKeyFiles: false })).inventory;
}

async function problems(etcd: string): Promise<string[]> {
  try {
    await parseInventory(text('v1.30.13', etcd), 'cluster.yaml', { checkKeyFiles: false });
    return [];
  } catch (err) {
    if (err instanceof InventoryError) return err.message.split('\n');
    throw err;
  }
}

const pods = (inv: Inventory) =>
  controlPlanePods(controlPlaneInput(inv, resolveHosts(inv)[0]!, ['/etc/ca-certificates', '/usr/share/ca-certificates']));
const apiServer = (inv: Inventory) => pods(inv)['kube-apiserver'].spec;

describe('static pods with an external etcd', () => {
  test('no etcd pod; the API server reaches every endpoint with the given files, mounted read-only as etcd-certs-0 (kubeadm getEtcdCertVolumes)', async () => {
    const inv = await inventory('v1.30.13');
    expect(Object.keys(pods(inv)).sort()).toEqual(['kube-apiserver', 'kube-controller-manager', 'kube-scheduler']);
    const command = apiServer(inv).containers[0]!.command!;
    expect(command.filter((a) => a.startsWith('--etcd-'))).toEqual([
      `--etcd-cafile=${KUBESPRAY.caFile}`,
      `--etcd-certfile=${KUBESPRAY.certFile}`,
      `--etcd-keyfile=${KUBESPRAY.keyFile}`,
      '--etcd-servers=https://10.0.0.11:2379,https://10.0.0.12:2379',
    ]);
    expect(apiServer(inv).volumes!.find((v) => v.name.startsWith('etcd-certs'))).toEqual({
      hostPath: { path: '/etc/ssl/etcd/ssl', type: 'DirectoryOrCreate' },
      name: 'etcd-certs-0',
    });
    expect(apiServer(inv).containers[0]!.volumeMounts!.find((m) => m.name === 'etcd-certs-0')).toEqual({
      mountPath: '/etc/ssl/etcd/ssl',
      name: 'etcd-certs-0',
      readOnly: true,
    });
  });

  test.each([
    [
      "files in the certificate directory (kubeadm's external-etcd guide)",
      {
        caFile: '/etc/kubernetes/pki/etcd/ca.crt',
        certFile: '/etc/kubernetes/pki/apiserver-etcd-client.crt',
        keyFile: '/etc/kubernetes/pki/apiserver-etcd-client.key',
      },
      [],
    ],
    [
      'a directory inside another one: the parent only',
      { caFile: '/etc/etcd/ca.pem', certFile: '/etc/etcd/client/c.pem', keyFile: '/etc/etcd/client/k.pem' },
      ['/etc/etcd'],
    ],
    [
      'two directories: sorted, numbered',
      { caFile: '/srv/pki/ca.pem', certFile: '/etc/etcd/c.pem', keyFile: '/etc/etcd/k.pem' },
      ['/etc/etcd', '/srv/pki'],
    ],
    [
      'under a CA bundle directory the API server mounts already',
      { caFile: '/usr/share/ca-certificates/etcd.pem', certFile: '/etc/etcd/c.pem', keyFile: '/etc/etcd/k.pem' },
      ['/etc/etcd'],
    ],
  ])('%s', async (_name, files, dirs) => {
    const inv = await inventory('v1.30.13', { ...KUBESPRAY, ...files });
    const volumes = apiServer(inv).volumes!.filter((v) => v.name.startsWith('etcd-certs'));
    expect(volumes.map((v) => [v.name, v.hostPath!.path])).toEqual(dirs.map((d, i) => [`etcd-certs-${i}`, d]));
  });
});

test("the PKI of an external-etcd cluster holds no etcd CA and no etcd certificate (they are the etcd operator's), the rest as with a stacked etcd", async () => {
  const inv = await inventory('v1.30.13');
  const result = await buildClusterPki(clusterPki(inv), pkiNodes(inv), new Map(), { withoutKubeconfigs: true });
  const paths = result.writes.get('cp-1')!.map((f) => f.path);
  expect(paths.filter((p) => p.includes('etcd'))).toEqual([]);
  expect(paths.sort()).toEqual([
    'pki/apiserver-kubelet-client.crt',
    'pki/apiserver-kubelet-client.key',
    'pki/apiserver.crt',
    'pki/apiserver.key',
    'pki/ca.crt',
    'pki/ca.key',
    'pki/front-proxy-ca.crt',
    'pki/front-proxy-ca.key',
    'pki/front-proxy-client.crt',
    'pki/front-proxy-client.key',
    'pki/sa.key',
    'pki/sa.pub',
  ]);
}, 120_000);

test('kubeadm-config holds etcd.external as kubeadm writes it, and reads back as the same external etcd', async () => {
  for (const version of ['v1.20.15', 'v1.30.13', 'v1.33.1']) {
    const inv = await inventory(version);
    const yaml = clusterConfigurationYaml(clusterConfiguration(inv));
    expect((parse(yaml) as { etcd: unknown }).etcd, version).toEqual({ external: KUBESPRAY });
    expect(readKubeadmConfig({ ClusterConfiguration: yaml }).etcd).toEqual({ kind: 'external', ...KUBESPRAY });
  }
});

describe('the etcd.external section', () => {
  test('settings of the etcd static pod beside it are refused, each by its path', async () => {
    const found = await problems(`    imageTag: 3.5.6-0\n    extraArgs: {snapshot-count: "5000"}\n${externalYaml(KUBESPRAY)}`);
    expect(found.join('\n')).toContain('cluster.etcd.imageTag');
    expect(found.join('\n')).toContain('cluster.etcd.extraArgs');
    expect(found.join('\n')).toContain('etcd.external replaces');
  });

  test.each([
    ['a plain-http endpoint', { ...KUBESPRAY, endpoints: ['http://10.0.0.11:2379'] }, 'https://HOST:PORT'],
    ['an endpoint with a path', { ...KUBESPRAY, endpoints: ['https://10.0.0.11:2379/v3'] }, 'https://HOST:PORT'],
    ['a shell word in a path', { ...KUBESPRAY, caFile: '/etc/ssl/$(reboot).pem' }, 'an absolute path'],
    ['a relative path', { ...KUBESPRAY, keyFile: 'node-key.pem' }, 'an absolute path'],
  ])('%s is refused before any host is touched', async (_name, external, hint) => {
    const found = await problems(externalYaml(external));
    expect(found.join('\n')).toContain('cluster.etcd.external');
    expect(found.join('\n')).toContain(hint);
  });

  test('what adopt and etcd backup cannot use in a kubeadm-config', () => {
    expect(externalEtcdProblem(KUBESPRAY)).toBeUndefined();
    expect(externalEtcdProblem({ endpoints: [] })).toBe('it names no endpoints');
    expect(externalEtcdProblem({ ...KUBESPRAY, endpoints: ['http://10.0.0.11:2379'] })).toContain('is not https');
    expect(externalEtcdProblem({ endpoints: KUBESPRAY.endpoints, caFile: KUBESPRAY.caFile })).toBe(
      "it names no certFile, keyFile: kubestrap reaches etcd with the API server's client certificate",
    );
  });
});

test('reset keeps /var/lib/etcd when etcd is external (the host etcd of a Kubespray control plane keeps its data there), and empties it otherwise', () => {
  expect(findLeftovers(false)).toContain('/var/lib/etcd/*');
  expect(removeLeftovers(false)).toContain('/var/lib/etcd/*');
  expect(findLeftovers(true)).not.toContain('/var/lib/etcd');
  expect(removeLeftovers(true)).not.toContain('/var/lib/etcd');
  expect(removeLeftovers(true)).toContain('/var/lib/kubelet/*');
});
