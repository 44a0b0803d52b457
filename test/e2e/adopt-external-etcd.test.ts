/**
 * Adoption of a kubeadm cluster whose etcd is external (#19, item 4's other side): etcd runs on
 * the control-plane host as Kubespray's default deploys it — Debian's etcd binary under systemd,
 * its own CA and certificates in /etc/ssl/etcd/ssl made with openssl — and the reference kubeadm
 * 1.20.2 points the API server at it (etcd.external). kubestrap adopts it, plans no change to the
 * control plane, renews the certificates that are Kubernetes' and none of etcd's, backs etcd up
 * through its endpoint, and refuses an external etcd it cannot reach.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { parse, parseDocument, stringify } from 'yaml';
import type { Host } from '../../src/transport/host.js';
import { openLabHost, runCli, tempDir } from '../lab/helpers.js';
import type { LabHost } from '../lab/lab.js';
import { adoption as adoptionOf, changesOf, kubeadmDate, readReport } from './adopt-helpers.js';
import { whilePollingTheApi } from './api-poller.js';
import { installLabCni, KUBESTRAP_INSIDE, startClusterLab, type ClusterLab } from './cluster-lab.js';
import { kubeadmInit, kubeadmJoin, prepareKubeadmNode } from './kubeadm-cluster.js';
import { kubectl } from './kubectl.js';
import { issuedCertificate, selfSignedCertificate } from '../unit/openssl.js';

const SSL = '/etc/ssl/etcd/ssl';
let cluster: ClusterLab;
let hosts: Map<string, Host>;
let adoption: ReturnType<typeof adoptionOf>;
let external: { endpoints: string[]; caFile: string; certFile: string; keyFile: string };
const kubeconfig = join(tempDir('e2e'), 'admin.conf');

/** Kubespray's etcd certificates for one host, made with openssl: the CA, the member's serving/peer pair, the node's client pair. */
function etcdCertificates(node: string, ip: string): Map<string, string> {
  const dir = tempDir('e2e-etcd-pki');
  selfSignedCertificate({ cwd: dir, key: 'ca-key.pem', cert: 'ca.pem', subject: '/CN=etcd-ca', days: 365 });
  const issue = (name: string, subject: string, usage: string) => {
    issuedCertificate({
      cwd: dir,
      ca: 'ca.pem',
      caKey: 'ca-key.pem',
      key: `${name}-key.pem`,
      cert: `${name}.pem`,
      subject,
      days: 365,
      extensions: `subjectAltName=DNS:${node},DNS:localhost,IP:${ip},IP:127.0.0.1\nextendedKeyUsage=${usage}\nkeyUsage=digitalSignature,keyEncipherment\n`,
    });
  };
  issue(`member-${node}`, `/CN=etcd-member-${node}`, 'serverAuth,clientAuth');
  issue(`node-${node}`, `/CN=etcd-node-${node}`, 'clientAuth');
  return new Map(
    ['ca.pem', 'ca-key.pem', `member-${node}.pem`, `member-${node}-key.pem`, `node-${node}.pem`, `node-${node}-key.pem`].map((f) => [
      f,
      readFileSync(join(dir, f), 'utf8'),
    ]),
  );
}

/** etcd as a host service of the control plane (Kubespray's etcd_deployment_type: host). */
function etcdUnit(node: string, ip: string): string {
  const url = (port: number) => `https://${ip}:${port}`;
  const flags = [
    `--name=${node}`,
    '--data-dir=/var/lib/etcd',
    `--listen-client-urls=${url(2379)},https://127.0.0.1:2379`,
    `--advertise-client-urls=${url(2379)}`,
    `--listen-peer-urls=${url(2380)}`,
    `--initial-advertise-peer-urls=${url(2380)}`,
    `--initial-cluster=${node}=${url(2380)}`,
    `--cert-file=${SSL}/member-${node}.pem`,
    `--key-file=${SSL}/member-${node}-key.pem`,
    '--client-cert-auth',
    `--trusted-ca-file=${SSL}/ca.pem`,
    `--peer-cert-file=${SSL}/member-${node}.pem`,
    `--peer-key-file=${SSL}/member-${node}-key.pem`,
    '--peer-client-cert-auth',
    `--peer-trusted-ca-file=${SSL}/ca.pem`,
  ];
  return `[Unit]\nDescription=etcd (host service, as Kubespray deploys it)\nAfter=network.target\n\n[Service]\nType=notify\nExecStart=/usr/local/bin/etcd ${flags.join(' ')}\nRestart=always\n\n[Install]\nWantedBy=multi-user.target\n`;
}

const etcdFiles = () => cluster.lab.inside(cluster.controlPlane, `sha256sum ${SSL}/*`);

/** The nodes kubeadm makes the cluster of; the second control plane stays bare for kubestrap to join. */
let kubeadmNodes: LabHost[];
let spare: LabHost;

beforeAll(async () => {
  cluster = await startClusterLab({ controlPlanes: 2, workers: 1 });
  spare = cluster.controlPlanes[1]!;
  kubeadmNodes = cluster.nodes.filter((n) => n !== spare);
  hosts = new Map(await Promise.all(cluster.nodes.map(async (n) => [n.name, await openLabHost(cluster.lab, n)] as const)));
  adoption = adoptionOf(cluster, kubeconfig);
});

afterAll(async () => {
  for (const host of hosts?.values() ?? []) await host.close();
  await cluster?.stop();
});

test("the reference kubeadm 1.20.2 makes a cluster whose API server uses an etcd running beside it as a host service (Kubespray's layout, certificates from openssl)", async () => {
  const cp = cluster.controlPlane;
  const cpHost = hosts.get(cp.name)!;
  const certs = etcdCertificates(cp.name, cp.ip);
  await cpHost.writeFiles([
    ...[...certs].map(([name, content]) => ({ path: `${SSL}/${name}`, content, mode: name.endsWith('-key.pem') ? 0o600 : 0o644 })),
    { path: '/usr/local/bin/etcd', content: readFileSync('/usr/bin/etcd'), mode: 0o755 },
    { path: '/etc/systemd/system/etcd.service', content: etcdUnit(cp.name, cp.ip), mode: 0o644 },
  ]);
  await cpHost.check('systemctl daemon-reload && systemctl enable --now etcd');
  external = {
    endpoints: [`https://${cp.ip}:2379`],
    caFile: `${SSL}/ca.pem`,
    certFile: `${SSL}/node-${cp.name}.pem`,
    keyFile: `${SSL}/node-${cp.name}-key.pem`,
  };

  await Promise.all(kubeadmNodes.map((n) => prepareKubeadmNode(hosts.get(n.name)!, cluster.packageMirror)));
  // the endpoint a further control plane needs (kubeadm refuses to add one to a cluster without it)
  const joinCommand = await kubeadmInit(cluster, cpHost, { etcd: { external }, controlPlaneEndpoint: `${cp.ip}:6443` });
  await kubeadmJoin(hosts, cluster.workers, joinCommand);
  await installLabCni(cluster);
  writeFileSync(kubeconfig, (await cpHost.readFiles(['/etc/kubernetes/admin.conf'])).get('/etc/kubernetes/admin.conf')!.content, {
    mode: 0o600,
  });
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'node', '--all', '--timeout=300s'], 320_000);
  // kubeadm ran no etcd of its own: no manifest, no etcd certificates in its PKI
  expect(cluster.lab.inside(cp, 'ls /etc/kubernetes/manifests; ls /etc/kubernetes/pki').split('\n')).not.toContain('etcd.yaml');
  expect(cluster.lab.inside(cp, 'test -e /etc/kubernetes/pki/etcd && echo present || echo absent').trim()).toBe('absent');
}, 900_000);

test('adopt reaches the external etcd and writes it as etcd.external; plan shows the explained differences only, none under /etc/kubernetes; apply changes no file there and restarts no control-plane container', async () => {
  const cp = cluster.controlPlane;
  const { adopt, inventory } = adoption;
  const result = await adopt(cp.ip, inventory, [
    '--accept-new-host-keys',
    ...kubeadmNodes.filter((n) => n !== cp).flatMap((n) => ['--node', `${n.name}=${n.ip}`]),
  ]);
  expect(result.code, result.stdout + result.stderr).toBe(0);
  const inv = parse(readFileSync(inventory, 'utf8')) as { cluster: { etcd: unknown } };
  expect(inv.cluster.etcd).toEqual({ external });
  const validated = await runCli(['validate', '-i', inventory]);
  expect(validated.code, validated.stdout + validated.stderr).toBe(0);

  // the same differences as on the stacked cluster (kubeadm-baseline.test.ts), and no etcd manifest or certificate
  const kept = (target: string) => target.startsWith('/etc/kubernetes') || target.includes('etcd');
  await adoption.expectApplyKeeps(kubeadmNodes, cp.name, kept, etcdFiles);
}, 300_000);

test("a second control plane added to the adopted inventory joins through kubestrap: the external etcd's three files copied from the first, no etcd member or manifest of its own, its API server ready on the external etcd; the other hosts change only the control planes' names in /etc/hosts", async () => {
  const doc = parseDocument(readFileSync(adoption.inventory, 'utf8'));
  doc.addIn(['hosts'], { name: spare.name, address: spare.ip, hostKey: spare.hostKey, roles: ['control-plane'] });
  writeFileSync(adoption.inventory, doc.toString());
  const reportFile = join(adoption.home, 'second-control-plane.json');
  const apply = await adoption.run(['apply', '--output', 'plain', '--report', reportFile]);
  expect(apply.code, apply.stdout + apply.stderr).toBe(0);
  const report = readReport(reportFile);
  // every node's /etc/hosts names the control planes (hosts-file): the one change the others get
  const others = report.hosts.filter((h) => h.name !== spare.name);
  expect(others.map((h) => [h.name, h.changes.map((c) => `${c.phase} ${c.target}`)])).toEqual(
    others.map((h) => [h.name, ['hosts-file /etc/hosts']]),
  );
  expect(changesOf(report, spare.name, ['join-control-planes'])).toEqual([
    'join-control-planes cluster membership: join as a control plane (etcd member, API server, controller-manager, scheduler)',
  ]);
  const files = `sha256sum ${external.caFile} ${external.certFile} ${external.keyFile}; stat -c '%a %n' ${external.keyFile}`;
  expect(cluster.lab.inside(spare, files)).toBe(cluster.lab.inside(cluster.controlPlane, files));
  expect(cluster.lab.inside(spare, 'ls /etc/kubernetes/manifests').trim().split('\n')).toEqual([
    'kube-apiserver.yaml',
    'kube-controller-manager.yaml',
    'kube-scheduler.yaml',
  ]);
  expect(cluster.lab.inside(spare, 'test -e /etc/kubernetes/pki/etcd && echo present || echo absent').trim()).toBe('absent');
  const node = JSON.parse(await kubectl(kubeconfig, ['get', 'node', spare.name, '-o', 'json'])) as {
    metadata: { labels: Record<string, string> };
  };
  expect(node.metadata.labels).toHaveProperty('node-role.kubernetes.io/control-plane');
  // cp-2's API server answers on its own address, reading the same etcd
  const pods = await kubectl(kubeconfig, ['--server', `https://${spare.ip}:6443`, '-n', 'kube-system', 'get', 'pods', '-o', 'name']);
  expect(pods).toContain(`pod/kube-apiserver-${spare.name}`);
  const again = await adoption.run(['plan', '--output', 'plain']);
  expect(again.code, again.stdout + again.stderr).toBe(0);
  expect(again.stdout).toContain('Plan: no changes.');
}, 600_000);

test("certs renew all renews the control plane's certificates, which kubeadm's check-expiration shows, and none of the external etcd's; the API answers again after the restart", async () => {
  const { notAfter } = adoption;
  const before = notAfter('/etc/kubernetes/pki/apiserver.crt');
  const etcdBefore = etcdFiles();
  const polled = await whilePollingTheApi(cluster, cluster.workers[0]!, () => adoption.run(['certs', 'renew', 'all', '--output', 'plain']));
  expect(polled.result.code, polled.result.stdout + polled.result.stderr).toBe(0);
  console.log(
    `certs renew all (external etcd, 2 control planes; the worker reaches the API at cp-1's address): ${polled.polls} polls, ${polled.failures.length} unanswered during cp-1's restart`,
  );
  expect(polled.answeringAfter).toBe(true);
  const after = notAfter('/etc/kubernetes/pki/apiserver.crt');
  expect(after.getTime()).toBeGreaterThan(before.getTime());
  const check = cluster.lab.inside(cluster.controlPlane, 'kubeadm certs check-expiration 2>/dev/null');
  expect(check).toMatch(new RegExp(`^apiserver\\s+${kubeadmDate(after)}\\s+364d\\s+ca\\s+no`, 'm'));
  for (const name of ['admin.conf', 'front-proxy-client', 'scheduler.conf'])
    expect(check, name).toMatch(new RegExp(`^${name.replace('.', '\\.')}\\s+${kubeadmDate(after).slice(0, 12)}`, 'm'));
  // kubeadm lists no etcd certificate for an external etcd, and kubestrap wrote none
  expect(check).not.toMatch(/^(etcd-|apiserver-etcd-client)/m);
  expect(cluster.lab.inside(cluster.controlPlane, 'test -e /etc/kubernetes/pki/etcd && echo present || echo absent').trim()).toBe('absent');
  expect(etcdFiles()).toBe(etcdBefore);
}, 600_000);

test("etcd backup goes through the external etcd's endpoint with the API server's client files: Debian's etcdctl reads the snapshot; upgrade plan says the external etcd is not kubestrap's to upgrade", async () => {
  const status = await adoption.etcdBackup('external-etcd.db');
  expect(status.revision).toBeGreaterThan(0);
  expect(status.totalKey).toBeGreaterThan(100);

  const upgrade = await adoption.run(['upgrade', 'plan']);
  expect(upgrade.code, upgrade.stdout + upgrade.stderr).toBe(0);
  expect(upgrade.stdout).toMatch(/^etcd\s+external\s+not upgraded by kubestrap$/m);
}, 300_000);

test("kubestrap join --control-plane on a node refuses an external-etcd cluster with the way to do it, before changing anything; remove-node takes the second control plane out and leaves /var/lib/etcd (the external etcd's, on a Kubespray host) alone", async () => {
  const created = await adoption.run(['token', 'create', '--print-join-command']);
  expect(created.code, created.stderr).toBe(0);
  const args = created.stdout.trim().replace(/^kubestrap join /, '');
  const worker = hosts.get(cluster.workers[0]!.name)!;
  const joined = await worker.exec(
    `node ${KUBESTRAP_INSIDE}/bin/kubestrap.js join ${args} --control-plane --certificate-key ${'0'.repeat(64)} --output plain`,
    { timeoutMs: 120_000 },
  );
  expect(joined.code, joined.stdout + joined.stderr).not.toBe(0);
  expect(joined.stderr).toContain(
    `the cluster's etcd is external (${external.endpoints[0]}): add this node to the inventory as a control plane and run kubestrap apply`,
  );

  cluster.lab.inside(spare, 'mkdir -p /var/lib/etcd/member && echo kept > /var/lib/etcd/member/marker');
  const removed = await adoption.run(['remove-node', spare.name, '--yes', '--output', 'plain']);
  expect(removed.code, removed.stdout + removed.stderr).toBe(0);
  const nodes = JSON.parse(await kubectl(kubeconfig, ['get', 'nodes', '-o', 'json'])) as { items: Array<{ metadata: { name: string } }> };
  expect(nodes.items.map((n) => n.metadata.name).sort()).toEqual(kubeadmNodes.map((n) => n.name).sort());
  expect(cluster.lab.inside(spare, 'cat /var/lib/etcd/member/marker; ls /etc/kubernetes/manifests | wc -l').trim().split('\n')).toEqual([
    'kept',
    '0',
  ]);
  // the first control plane's etcd never had cp-2 as a member, and still answers
  expect(cluster.lab.inside(cluster.controlPlane, 'systemctl is-active etcd').trim()).toBe('active');
}, 300_000);

test('adopt refuses, before writing anything, when kubeadm-config names an endpoint of the external etcd that does not answer (the files exist)', async () => {
  const cp = cluster.controlPlane;
  const out = join(adoption.home, 'refused.yaml');
  const files = adoption.kubernetesFiles(cluster.nodes);
  const live = JSON.parse(await kubectl(kubeconfig, ['-n', 'kube-system', 'get', 'configmap', 'kubeadm-config', '-o', 'json'])) as {
    data: Record<string, string>;
  };
  const config = parse(live.data.ClusterConfiguration!) as Record<string, unknown>;
  const dead = `https://${cp.ip}:2381`;
  const patched = join(adoption.home, 'kubeadm-config.json');
  const replace = async (clusterConfiguration: string) => {
    writeFileSync(
      patched,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'kubeadm-config', namespace: 'kube-system' },
        data: { ...live.data, ClusterConfiguration: clusterConfiguration },
      }),
    );
    await kubectl(kubeconfig, ['replace', '-f', patched]);
  };
  await replace(stringify({ ...config, etcd: { external: { ...external, endpoints: [dead] } } }));
  try {
    const refused = await adoption.adopt(cp.ip, out);
    expect(refused.code, refused.stdout + refused.stderr).toBe(1);
    expect(refused.stderr).toContain(
      `error: not adopted: the cluster's etcd is external (${dead}) and kubestrap cannot reach it from ${cp.name} (${cp.ip}): no member of the external etcd answers (${dead}: no connection to ${cp.ip}:2381 from the host: `,
    );
    console.log(`adopt with a dead external etcd endpoint: ${refused.stderr.trim()}`);
  } finally {
    await replace(live.data.ClusterConfiguration!);
  }
  expect(existsSync(out)).toBe(false);
  expect(adoption.kubernetesFiles(cluster.nodes)).toEqual(files);
}, 180_000);
