/**
 * kubestrap apply joins the inventory's workers itself (kubelet client certificates issued from
 * the cluster CA, the kubelets started while the control plane comes up): all three nodes Ready, a pod on each worker Running and reachable from the
 * other; a second apply changes nothing; a worker that left is joined again by the next apply,
 * the others untouched.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import forge from 'node-forge';
import { parse, stringify } from 'yaml';
import { pollUntil } from '../../src/util/poll.js';
import { runCli, tempDir } from '../lab/helpers.js';
import { startClusterLab, type ClusterLab } from './cluster-lab.js';
import { e2eInventory } from './inventory.js';
import { busyboxPod, kubectl } from './kubectl.js';

let cluster: ClusterLab;
let inventory: string;
const home = tempDir('e2e-join-home');
const env = { KUBESTRAP_HOME: home };
let kubeconfig = '';

type Report = { hosts: Array<{ name: string; changes: Array<{ phase: string }> }> };

/** Hosts whose join-workers phase made a change, from an apply --report file. */
function joinedHosts(file: string): string[] {
  const report = JSON.parse(readFileSync(join(home, file), 'utf8')) as Report;
  return report.hosts.filter((h) => h.changes.some((c) => c.phase === 'join-workers')).map((h) => h.name).sort();
}

beforeAll(async () => {
  cluster = await startClusterLab({ workers: 2, withCni: true });
  inventory = join(tempDir('e2e-join'), 'inventory.yaml');
  writeFileSync(inventory, e2eInventory(cluster));
});

afterAll(async () => {
  await cluster?.stop();
});

test('the workers join through kubestrap apply: 3 nodes Ready, a pod Running on each worker, pods reach each other across nodes', async () => {
  const result = await runCli(['apply', '-i', inventory, '--report', join(home, 'first.json')], env);
  expect(result.code, result.stdout + result.stderr).toBe(0);
  expect(joinedHosts('first.json')).toEqual(cluster.workers.map((w) => w.name).sort());
  kubeconfig = /^admin kubeconfig: (\S+)/m.exec(result.stdout)![1]!;
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'node', '--all', '--timeout=240s'], 260_000);
  expect((await kubectl(kubeconfig, ['get', 'nodes', '-o', 'name'])).trim().split('\n').sort()).toEqual(cluster.nodes.map((n) => `node/${n.name}`).sort());
  // the controller-manager makes namespace default's service account a moment after it starts; apply may end first
  await kubectl(kubeconfig, ['wait', '--for=create', 'serviceaccount/default', '--timeout=120s'], 130_000);
  for (const w of cluster.workers) {
    const file = join(home, `probe-${w.name}.json`);
    writeFileSync(file, busyboxPod(`probe-${w.name}`, w.name));
    await kubectl(kubeconfig, ['apply', '-f', file]);
  }
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'pod', '-l', 'app=kubestrap-e2e', '--timeout=180s'], 200_000);
  const pods = JSON.parse(await kubectl(kubeconfig, ['get', 'pods', '-l', 'app=kubestrap-e2e', '-o', 'json'])) as { items: Array<{ metadata: { name: string }; spec: { nodeName: string }; status: { phase: string; podIP: string } }> };
  expect(pods.items.map((p) => [p.spec.nodeName, p.status.phase]).sort()).toEqual(cluster.workers.map((w) => [w.name, 'Running']));
  const ping = await kubectl(kubeconfig, ['exec', pods.items[0]!.metadata.name, '--', 'ping', '-c', '2', '-W', '5', pods.items[1]!.status.podIP]);
  expect(ping).toMatch(/2 packets transmitted, 2 packets received/);
});

test("each worker's kubelet swaps the key kubestrap issued for one of its own (the cluster approves its self-renewal); no join marker or bootstrap kubeconfig is left", async () => {
  for (const w of cluster.workers) {
    // the certificate kubestrap put into kubelet.conf, and the one the kubelet serves from its store
    const issued = await cluster.lab.run(w, "sed -n 's/^ *client-certificate-data: //p' /etc/kubernetes/kubelet.conf | base64 -d | openssl x509 -noout -pubkey");
    const current = () => cluster.lab.run(w, 'openssl x509 -noout -pubkey -in /var/lib/kubelet/pki/kubelet-client-current.pem');
    const own = await pollUntil(async () => ((await current()) !== issued ? current() : undefined), { timeoutMs: 120_000, intervalMs: 1000, failure: () => `${w.name}'s kubelet still uses the key kubestrap issued` });
    expect(own, w.name).toContain('PUBLIC KEY');
    expect(await cluster.lab.run(w, 'openssl x509 -noout -subject -in /var/lib/kubelet/pki/kubelet-client-current.pem')).toMatch(new RegExp(`O ?= ?system:nodes, CN ?= ?system:node:${w.name}`));
    expect(await cluster.lab.run(w, 'ls /etc/kubernetes/kubestrap-join-pending /etc/kubernetes/bootstrap-kubelet.conf 2>/dev/null || true'), w.name).toBe('');
  }
});

/** A kubelet-serving CSR created with a node's own kubelet credentials, as a root-compromised node could. */
async function csrAsNode(node: (typeof cluster.workers)[number], name: string, pem: string): Promise<void> {
  const dir = tempDir(`e2e-csr-${name}`);
  const credentials = await cluster.lab.run(node, 'cat /var/lib/kubelet/pki/kubelet-client-current.pem');
  const admin = parse(readFileSync(kubeconfig, 'utf8')) as { clusters: Array<{ cluster: Record<string, string> }> };
  const asNode = {
    apiVersion: 'v1', kind: 'Config', 'current-context': 'node',
    clusters: [{ name: 'c', cluster: admin.clusters[0]!.cluster }],
    users: [{ name: 'node', user: { 'client-certificate-data': Buffer.from(credentials.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/)![0]).toString('base64'), 'client-key-data': Buffer.from(credentials.match(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----\n/)![0]).toString('base64') } }],
    contexts: [{ name: 'node', context: { cluster: 'c', user: 'node' } }],
  };
  writeFileSync(join(dir, 'kubeconfig'), stringify(asNode), { mode: 0o600 });
  const csr = { apiVersion: 'certificates.k8s.io/v1', kind: 'CertificateSigningRequest', metadata: { name }, spec: { signerName: 'kubernetes.io/kubelet-serving', usages: ['digital signature', 'server auth'], request: Buffer.from(pem).toString('base64') } };
  writeFileSync(join(dir, 'csr.json'), JSON.stringify(csr));
  await kubectl(join(dir, 'kubeconfig'), ['create', '-f', join(dir, 'csr.json')]);
}

/** An ECDSA request from the real openssl, as kubelets make them. */
function servingRequest(node: string, san: string): string {
  const dir = tempDir('e2e-req');
  execFileSync('openssl', ['ecparam', '-genkey', '-name', 'prime256v1', '-noout', '-out', join(dir, 'k.pem')]);
  execFileSync('openssl', ['req', '-new', '-key', join(dir, 'k.pem'), '-subj', `/O=system:nodes/CN=system:node:${node}`, '-addext', `subjectAltName=${san}`, '-out', join(dir, 'r.csr')]);
  return readFileSync(join(dir, 'r.csr'), 'utf8');
}

/**
 * A request whose first extensionRequest attribute has no values: Go's parser (the API server's)
 * skips it and accepts the request; kubestrap's parser once failed on it, and every apply with it.
 */
function emptyAttributeRequest(node: string): string {
  const { asn1 } = forge;
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = keys.publicKey;
  csr.setSubject([{ name: 'organizationName', value: 'system:nodes' }, { name: 'commonName', value: `system:node:${node}` }]);
  csr.setAttributes([{ name: 'extensionRequest', extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: node }] }] }]);
  // node-forge has it, its types do not
  const info = (forge.pki as unknown as { getCertificationRequestInfo(c: ReturnType<typeof forge.pki.createCertificationRequest>): forge.asn1.Asn1 }).getCertificationRequestInfo(csr);
  const attributes = (info.value as forge.asn1.Asn1[])[3]!;
  attributes.value = [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer('1.2.840.113549.1.9.14').getBytes()), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, [])]), ...(attributes.value as forge.asn1.Asn1[])];
  const digest = forge.md.sha256.create();
  digest.update(asn1.toDer(info).getBytes());
  const algorithm = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(forge.pki.oids.sha256WithRSAEncryption!).getBytes()), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '')]);
  const request = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [info, algorithm, asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, `\0${keys.privateKey.sign(digest)}`)]);
  return `-----BEGIN CERTIFICATE REQUEST-----\n${forge.util.encode64(asn1.toDer(request).getBytes(), 64)}\n-----END CERTIFICATE REQUEST-----\n`;
}

test('H2/M2 on the real cluster: a node asking for the API service name or the endpoint is left pending with a warning; a request the API accepts but kubestrap cannot read does not stop apply', async () => {
  const worker = cluster.workers[0]!;
  await csrAsNode(worker, 'h2-service-name', servingRequest(worker.name, `DNS:${worker.name},DNS:kubernetes.default.svc.cluster.local`));
  await csrAsNode(worker, 'h2-endpoint', servingRequest(worker.name, `DNS:${worker.name},IP:${cluster.controlPlanes[0]!.ip}`));
  await csrAsNode(worker, 'm2-empty-attribute', emptyAttributeRequest(worker.name));
  const result = await runCli(['apply', '-i', inventory, '--output', 'plain'], env);
  expect(result.code, result.stdout + result.stderr).toBe(0);
  expect(result.stdout).toMatch(/kubelet serving certificate request h2-service-name left pending: asks for names of the API server or the cluster's services: kubernetes\.default\.svc\.cluster\.local/);
  expect(result.stdout).toMatch(new RegExp(`kubelet serving certificate request h2-endpoint left pending: asks for names that are not ${worker.name}'s: ${cluster.controlPlanes[0]!.ip.replaceAll('.', '\\.')}`));
  for (const name of ['h2-service-name', 'h2-endpoint']) {
    expect(await kubectl(kubeconfig, ['get', 'csr', name, '-o', 'jsonpath={.status.conditions}'])).toBe('');
  }
  // read as Go reads it: the node's own name only, so it is the one request approved
  expect(await kubectl(kubeconfig, ['get', 'csr', 'm2-empty-attribute', '-o', 'jsonpath={.status.conditions[0].type}'])).toBe('Approved');
  await kubectl(kubeconfig, ['delete', 'csr', 'h2-service-name', 'h2-endpoint', 'm2-empty-attribute']);
});

test('a second apply changes nothing; a worker that left is joined again by the next apply, the others untouched', async () => {
  const again = await runCli(['apply', '-i', inventory], env);
  expect(again.code, again.stdout + again.stderr).toBe(0);
  expect(again.stdout).toContain('Applied: no changes were needed.');
  const gone = cluster.workers[1]!;
  await cluster.lab.run(gone, 'systemctl stop kubelet && rm -f /etc/kubernetes/kubelet.conf /etc/kubernetes/bootstrap-kubelet.conf && rm -rf /var/lib/kubelet/pki');
  await kubectl(kubeconfig, ['delete', 'node', gone.name]);
  const rejoin = await runCli(['apply', '-i', inventory, '--report', join(home, 'rejoin.json')], env);
  expect(rejoin.code, rejoin.stdout + rejoin.stderr).toBe(0);
  expect(joinedHosts('rejoin.json')).toEqual([gone.name]);
  const report = JSON.parse(readFileSync(join(home, 'rejoin.json'), 'utf8')) as Report;
  expect(report.hosts.find((h) => h.name === cluster.workers[0]!.name)!.changes).toEqual([]);
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', `node/${gone.name}`, '--timeout=240s'], 260_000);
});

test('labels and taints from the inventory reach the Nodes; a control plane that is also a worker loses its NoSchedule taint; a changed label is one change, then none; per-worker join tokens are gone; kubestrap names itself to the API', async () => {
  const [cp, tainted] = [cluster.controlPlanes[0]!, cluster.workers[1]!];
  const marked = (labelValue: string) => {
    const doc = parse(readFileSync(inventory, 'utf8').replace(/^#.*\n/, '')) as { hosts: Array<Record<string, unknown>> };
    for (const host of doc.hosts) {
      if (host.name === cp.name) host.roles = ['control-plane', 'worker'];
      if (host.name === tainted.name) Object.assign(host, { labels: { 'example.com/pool': labelValue }, taints: [{ key: 'example.com/dedicated', value: 'batch', effect: 'NoExecute' }] });
    }
    const file = join(tempDir('e2e-marks'), 'inventory.yaml');
    writeFileSync(file, stringify(doc));
    return file;
  };
  const nodeOf = async (name: string) => JSON.parse(await kubectl(kubeconfig, ['get', 'node', name, '-o', 'json'])) as { metadata: { labels: Record<string, string> }; spec: { taints?: Array<{ key: string; value?: string; effect: string }> } };
  const changesOf = (file: string) => (JSON.parse(readFileSync(join(home, file), 'utf8')) as { hosts: Array<{ name: string; changes: Array<{ phase: string; target: string }> }> }).hosts.flatMap((h) => h.changes.map((c) => `${c.phase} ${c.target}`));

  const first = await runCli(['apply', '-i', marked('a'), '--report', join(home, 'marks-1.json')], env);
  expect(first.code, first.stdout + first.stderr).toBe(0);
  expect(changesOf('marks-1.json')).toEqual(expect.arrayContaining([`cluster-objects Node ${cp.name}`, `cluster-objects Node ${tainted.name}`]));
  expect((await nodeOf(cp.name)).spec.taints ?? []).toEqual([]);
  const node = await nodeOf(tainted.name);
  expect(node.metadata.labels['example.com/pool']).toBe('a');
  expect(node.spec.taints).toEqual(expect.arrayContaining([{ key: 'example.com/dedicated', value: 'batch', effect: 'NoExecute' }]));

  const changed = await runCli(['apply', '-i', marked('b'), '--report', join(home, 'marks-2.json')], env);
  expect(changed.code, changed.stdout + changed.stderr).toBe(0);
  expect(changesOf('marks-2.json')).toEqual([`cluster-objects Node ${tainted.name}`]);
  expect((await nodeOf(tainted.name)).metadata.labels['example.com/pool']).toBe('b');
  const settled = await runCli(['apply', '-i', marked('b'), '--report', join(home, 'marks-3.json')], env);
  expect(settled.code, settled.stdout + settled.stderr).toBe(0);
  expect(changesOf('marks-3.json')).toEqual([]);

  // the one-hour tokens that joined the workers went once they had joined (audit L9)
  const tokens = JSON.parse(await kubectl(kubeconfig, ['get', 'secrets', '-n', 'kube-system', '--field-selector', 'type=bootstrap.kubernetes.io/token', '-o', 'json'])) as { items: Array<{ data: { description?: string } }> };
  expect(tokens.items.map((t) => Buffer.from(t.data.description ?? '', 'base64').toString()).filter((d) => d.startsWith('kubestrap: joining'))).toEqual([]);
  // managedFields name kubestrap, not a generic client
  expect(await kubectl(kubeconfig, ['get', 'configmap', '-n', 'kube-system', 'kubeadm-config', '-o', 'jsonpath={.metadata.managedFields[*].manager}'])).toMatch(/\bkubestrap\b/);
});
