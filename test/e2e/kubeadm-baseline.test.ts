/**
 * Baseline: the reference kubeadm 1.20.2 (built from Debian's source; test infrastructure, not
 * part of kubestrap) bootstraps the e2e lab's nodes, driven over SSH the way its users drive it.
 * Proves the lab itself is sound before kubestrap is measured on it: all nodes Ready, a pod on
 * each worker Running, pods reach each other across nodes.
 *
 * Then kubestrap adopts that cluster (`kubestrap adopt`, #19): the inventory it writes plans only
 * the differences it explains, apply leaves /etc/kubernetes as kubeadm wrote it, a third worker
 * (left bare by the baseline) joins through the inventory, and the day-2 commands work; what
 * adopt refuses is refused before anything changes.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Host } from '../../src/transport/host.js';
import { parse, parseDocument, stringify } from 'yaml';
import { openLabHost, runCli, tempDir } from '../lab/helpers.js';
import type { LabHost } from '../lab/lab.js';
import { API_POLL, whilePollingTheApi } from './api-poller.js';
import { adoption as adoptionOf, changesOf, kubeadmDate, readReport } from './adopt-helpers.js';
import { IMAGE_REPOSITORY, installLabCni, POD_SUBNET, SERVICE_SUBNET, startClusterLab, type ClusterLab } from './cluster-lab.js';
import { kubeadmInit, kubeadmJoin, prepareKubeadmNode } from './kubeadm-cluster.js';
import { askBootstrapRbac, expectedBootstrapRbac } from './bootstrap-rbac.js';
import { busyboxPod, kubectl } from './kubectl.js';

let cluster: ClusterLab;
let hosts: Map<string, Host>;
/** The nodes kubeadm makes the cluster of; the last worker stays bare for adoption's join. */
let kubeadmNodes: LabHost[];
let spare: LabHost;
const kubeconfig = join(tempDir('e2e'), 'admin.conf');

beforeAll(async () => {
  cluster = await startClusterLab({ workers: 3 });
  spare = cluster.workers.at(-1)!;
  kubeadmNodes = cluster.nodes.filter((n) => n !== spare);
  hosts = new Map(await Promise.all(kubeadmNodes.map(async (n) => [n.name, await openLabHost(cluster.lab, n)] as const)));
});

afterAll(async () => {
  for (const host of hosts?.values() ?? []) await host.close();
  await cluster?.stop();
});

test("the reference kubeadm (with the lab's FAKE ctr-based crictl) 1.20.2 brings the lab up: 3 of its 4 nodes Ready, a pod Running on each worker, pods reach each other across nodes", async () => {
  await Promise.all([...hosts.values()].map((h) => prepareKubeadmNode(h, cluster.packageMirror)));
  const cp = hosts.get(cluster.controlPlane.name)!;
  const joinCommand = await kubeadmInit(cluster, cp);
  expect(joinCommand).toMatch(/^kubeadm join \S+:6443 --token \S+\s+--discovery-token-ca-cert-hash sha256:[0-9a-f]{64}$/);
  const workers = cluster.workers.filter((w) => w !== spare);
  await kubeadmJoin(hosts, workers, joinCommand);
  await installLabCni(cluster);

  const admin = await cp.readFiles(['/etc/kubernetes/admin.conf']);
  writeFileSync(kubeconfig, admin.get('/etc/kubernetes/admin.conf')!.content, { mode: 0o600 });
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'node', '--all', '--timeout=300s'], 320_000);
  const nodes = JSON.parse(await kubectl(kubeconfig, ['get', 'nodes', '-o', 'json'])) as {
    items: Array<{ metadata: { name: string }; status: { conditions: Array<{ type: string; status: string }> } }>;
  };
  expect(nodes.items.map((n) => n.metadata.name).sort()).toEqual(kubeadmNodes.map((n) => n.name).sort());
  for (const n of nodes.items) expect(n.status.conditions.find((c) => c.type === 'Ready')?.status, n.metadata.name).toBe('True');

  const pods = workers.map((w) => ({ name: `probe-${w.name}`, node: w.name }));
  for (const pod of pods) {
    const file = join(kubeconfig, '..', `${pod.name}.json`);
    writeFileSync(file, busyboxPod(pod.name, pod.node));
    await kubectl(kubeconfig, ['apply', '-f', file]);
  }
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'pod', '-l', 'app=kubestrap-e2e', '--timeout=180s'], 200_000);
  const running = JSON.parse(await kubectl(kubeconfig, ['get', 'pods', '-l', 'app=kubestrap-e2e', '-o', 'json'])) as {
    items: Array<{ metadata: { name: string }; spec: { nodeName: string }; status: { phase: string; podIP: string } }>;
  };
  expect(running.items.map((p) => [p.spec.nodeName, p.status.phase]).sort()).toEqual(workers.map((w) => [w.name, 'Running']));
  const [first, second] = running.items;
  const ping = await kubectl(kubeconfig, ['exec', first!.metadata.name, '--', 'ping', '-c', '2', '-W', '5', second!.status.podIP]);
  expect(ping).toMatch(/2 packets transmitted, 2 packets received/);
  // the RBAC table kubestrap's cluster must answer the same way (control-plane.test.ts)
  expect(await askBootstrapRbac(kubeconfig)).toEqual(expectedBootstrapRbac());
}, 900_000);

// ---- kubestrap adopt (#19) on the cluster kubeadm made above ----

let adoption: ReturnType<typeof adoptionOf>;
beforeAll(() => {
  adoption = adoptionOf(cluster, kubeconfig);
});
const ADMIN_CONF = '/etc/kubernetes/admin.conf';

test('adopt refuses an unknown host key; accepted, it writes an inventory of the kubeadm cluster that validates, pins every host key and marks what it guessed', async () => {
  const cp = cluster.controlPlane;
  const { adopt, inventory: adopted } = adoption;
  const refused = await adopt(cp.ip, adopted, ['--hosts-from-nodes']);
  expect(refused.code, refused.stdout + refused.stderr).toBe(1);
  expect(refused.stderr).toContain(`unknown host key ${cp.hostKey}`);
  expect(existsSync(adopted)).toBe(false);

  // a new key is accepted only at an address the operator gave: each worker reports its own InternalIP (R2-L7)
  const workers = kubeadmNodes.filter((n) => n !== cp);
  const partial = await adopt(cp.ip, adopted, ['--hosts-from-nodes', '--accept-new-host-keys']);
  expect(partial.code, partial.stdout + partial.stderr).toBe(1);
  for (const w of workers)
    expect(partial.stdout).toContain(`${w.name}: not reached (${w.name} (${w.ip}:22): unknown host key ${w.hostKey}`);
  expect(partial.stdout).toContain(`  ${cp.name}\t${cp.ip}\tyou\t${cp.hostKey}`);
  const result = await adopt(cp.ip, adopted, [
    '--force',
    '--accept-new-host-keys',
    ...workers.flatMap((w) => ['--node', `${w.name}=${w.ip}`]),
  ]);
  expect(result.code, result.stdout + result.stderr).toBe(0);
  for (const n of kubeadmNodes) expect(result.stdout).toContain(`  ${n.name}\t${n.ip}\tyou\t${n.hostKey}`);
  expect(result.stdout).toContain(
    `adopted cluster kubernetes (Kubernetes ${cluster.kubernetesVersion}, kubeadm-config kubeadm.k8s.io/v1beta2): 3 of 3 nodes in ${adopted}`,
  );
  const validated = await runCli(['validate', '-i', adopted]);
  expect(validated.code, validated.stdout + validated.stderr).toBe(0);

  const text = readFileSync(adopted, 'utf8');
  const inv = parse(text) as {
    hosts: Array<{ name: string; address: string; hostKey: string; roles: string[] }>;
    cluster: Record<string, unknown>;
  };
  expect(inv.hosts).toEqual(
    kubeadmNodes.map((n) => ({ name: n.name, address: n.ip, hostKey: n.hostKey, roles: [n === cp ? 'control-plane' : 'worker'] })),
  );
  expect(inv.cluster).toMatchObject({
    kubernetesVersion: cluster.kubernetesVersion,
    imageRepository: IMAGE_REPOSITORY,
    networking: { podSubnet: POD_SUBNET, serviceSubnet: SERVICE_SUBNET },
    packages: { source: 'mirror', mirror: cluster.packageMirror, mirrorLayout: 'pkgs.k8s.io', unsigned: true },
    containerRuntime: { cgroupDriver: 'cgroupfs', restrictOOMScoreAdj: true },
    kubeProxy: { mode: 'iptables', conntrackMaxPerCore: 0 },
    cni: { plugin: 'none' },
    addons: { coreDNS: true, kubeProxy: true, metricsServer: false },
    certificates: { validity: '8760h', caValidity: '87600h', keyAlgorithm: 'RSA-2048' },
    etcd: { imageTag: cluster.etcdImageTag },
  });
  // kubeadm's API server certificate names nothing kubestrap would not issue
  expect(inv.cluster.certificates).not.toHaveProperty('certSANs');
  expect(text).toMatch(/# GUESS: no CNI DaemonSet runs[^\n]*\n\s+plugin: none/);
  expect(text).toMatch(/# kube-proxy's configuration leaves mode empty[^\n]*\n\s+mode: iptables/);
}, 120_000);

test('plan on the adopted cluster lists only the explained differences; apply leaves every file under /etc/kubernetes on every node and every control-plane container as kubeadm left them; a second plan changes nothing', async () => {
  // the PKI, the kubeconfigs and the four manifests are kubeadm's and stay; what differs, and why: ADOPTED_CONTROL_PLANE_DIFFERENCES
  await adoption.expectApplyKeeps(kubeadmNodes, cluster.controlPlane.name, (target) => target.startsWith('/etc/kubernetes'));
}, 300_000);

test('a third worker added to the adopted inventory joins and becomes Ready while the other hosts report zero changes', async () => {
  const adopted = adoption.inventory;
  const doc = parseDocument(readFileSync(adopted, 'utf8'));
  doc.addIn(['hosts'], { name: spare.name, address: spare.ip, hostKey: spare.hostKey, roles: ['worker'] });
  writeFileSync(adopted, doc.toString());
  const reportFile = join(adoption.home, 'third-worker.json');
  const apply = await adoption.run(['apply', '--output', 'plain', '--report', reportFile]);
  expect(apply.code, apply.stdout + apply.stderr).toBe(0);
  const report = readReport(reportFile);
  expect(report.hosts.filter((h) => h.changes.length).map((h) => h.name)).toEqual([spare.name]);
  expect(changesOf(report, spare.name, ['join-workers']).length).toBeGreaterThan(0);
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', `node/${spare.name}`, '--timeout=240s'], 260_000);
}, 600_000);

test("kubeconfig --merge puts the adopted cluster's saved admin kubeconfig beside kubeadm's admin context in a kubectl configuration: both contexts work with the real kubectl", async () => {
  const dir = tempDir('e2e-adopt-kube');
  const config = join(dir, 'config');
  writeFileSync(config, readFileSync(kubeconfig), { mode: 0o644 });
  const merged = await runCli(['kubeconfig', '-i', adoption.inventory, '--merge', '--context', 'adopted'], {
    ...adoption.env,
    KUBECONFIG: config,
  });
  expect(merged.code, merged.stdout + merged.stderr).toBe(0);
  expect(merged.stdout).toContain(`context adopted merged into ${config} (previous file kept as ${config}.kubestrap-backup-`);
  expect(statSync(config).mode & 0o777).toBe(0o600);
  for (const context of ['adopted', 'kubernetes-admin@kubernetes']) {
    const nodes = await kubectl(config, ['--context', context, 'get', 'nodes', '-o', 'name']);
    expect(nodes.trim().split('\n').sort(), context).toEqual(cluster.nodes.map((n) => `node/${n.name}`).sort());
  }
  const printed = await runCli(['kubeconfig', '-i', adoption.inventory], adoption.env);
  expect(printed.code, printed.stderr).toBe(0);
  expect(printed.stdout).toContain('client-key-data');
}, 120_000);

test("certs renew all on the adopted cluster re-issues the control plane's certificates, which kubeadm's own check-expiration then shows; the API answers again after the one control plane's restart; the kubelet keeps rotating its own client certificate", async () => {
  const { notAfter } = adoption;
  const before = notAfter('/etc/kubernetes/pki/apiserver.crt');
  const kubeletConf = cluster.lab.inside(cluster.controlPlane, 'sha256sum /etc/kubernetes/kubelet.conf');
  const polled = await whilePollingTheApi(cluster, cluster.workers[0]!, () => adoption.run(['certs', 'renew', 'all', '--output', 'plain']));
  expect(polled.result.code, polled.result.stdout + polled.result.stderr).toBe(0);
  // one control plane, no balancer: its API server restarts for the new certificates
  console.log(`certs renew all (1 control plane): ${polled.polls} ${API_POLL}, ${polled.failures.length} unanswered during the restart`);
  expect(polled.answeringAfter).toBe(true);
  const after = notAfter('/etc/kubernetes/pki/apiserver.crt');
  expect(after.getTime()).toBeGreaterThan(before.getTime());
  const check = cluster.lab.inside(cluster.controlPlane, 'kubeadm certs check-expiration 2>/dev/null');
  expect(check).toMatch(new RegExp(`^apiserver\\s+${kubeadmDate(after)}\\s+364d\\s+ca\\s+no`, 'm'));
  for (const name of ['admin.conf', 'apiserver-etcd-client', 'etcd-server', 'front-proxy-client', 'scheduler.conf'])
    expect(check, name).toMatch(new RegExp(`^${name.replace('.', '\\.')}\\s+${kubeadmDate(after).slice(0, 12)}`, 'm'));
  // kubeadm pointed kubelet.conf at the certificate the kubelet rotates: renew leaves it to the kubelet
  expect(cluster.lab.inside(cluster.controlPlane, 'sha256sum /etc/kubernetes/kubelet.conf')).toBe(kubeletConf);
}, 600_000);

test("on the adopted cluster: certs check-expiration lists kubeadm's certificates, etcd backup writes a snapshot Debian's etcdctl reads, token create prints a join command, upgrade plan reads the cluster's versions", async () => {
  const expiration = await adoption.run(['certs', 'check-expiration', '--output', 'json']);
  expect(expiration.code, expiration.stderr).toBe(0);
  const rows = JSON.parse(expiration.stdout) as Array<{ node: string; name: string; residualDays: number }>;
  const onControlPlane = rows.filter((r) => r.node === cluster.controlPlane.name).map((r) => r.name);
  for (const name of [
    'ca',
    'etcd-ca',
    'front-proxy-ca',
    'apiserver',
    'apiserver-etcd-client',
    'apiserver-kubelet-client',
    'front-proxy-client',
    'etcd-server',
    'etcd-peer',
    'etcd-healthcheck-client',
    'admin.conf',
    'controller-manager.conf',
    'scheduler.conf',
    'kubelet client (rotating)',
  ])
    expect(onControlPlane, name).toContain(name);
  expect(rows.filter((r) => r.name === 'apiserver').map((r) => r.residualDays)).toEqual([364]);

  const status = await adoption.etcdBackup('adopted-etcd.db');
  expect(status.revision).toBeGreaterThan(0);
  expect(status.totalKey).toBeGreaterThan(100);

  const token = await adoption.run(['token', 'create', '--print-join-command']);
  expect(token.code, token.stderr).toBe(0);
  expect(token.stdout.trim()).toMatch(
    new RegExp(
      `^kubestrap join ${cluster.controlPlane.ip}:6443 --token [a-z0-9]{6}\\.[a-z0-9]{16} --discovery-token-ca-cert-hash sha256:[0-9a-f]{64}$`,
    ),
  );

  const upgrade = await adoption.run(['upgrade', 'plan']);
  expect(upgrade.code, upgrade.stdout + upgrade.stderr).toBe(0);
  expect(upgrade.stdout).toContain(cluster.kubernetesVersion);
}, 300_000);

test('adopt refuses, with the reason and before writing anything, a node without admin.conf, an API server that does not accept admin.conf and an external etcd it cannot reach; the hosts stay as they were', async () => {
  const cp = cluster.controlPlane;
  const { adopt, kubernetesFiles } = adoption;
  const files = kubernetesFiles(cluster.nodes);
  const out = join(adoption.home, 'refused.yaml');

  const worker = await adopt(cluster.workers[0]!.ip, out);
  expect(worker.code, worker.stdout + worker.stderr).toBe(1);
  expect(worker.stderr).toContain(
    `error: not adopted: ${cluster.workers[0]!.name} (${cluster.workers[0]!.ip}) has no /etc/kubernetes/admin.conf`,
  );

  // an admin.conf whose client certificate another CA signed (as after a CA rotation gone wrong)
  const dir = tempDir('e2e-adopt-other-ca');
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=other-ca', '-days', '1']);
  openssl([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'admin.key',
    '-out',
    'admin.csr',
    '-subj',
    '/O=system:masters/CN=kubernetes-admin',
  ]);
  openssl(['x509', '-req', '-in', 'admin.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'admin.crt', '-days', '1']);
  const original = readFileSync(kubeconfig, 'utf8');
  const forged = parse(original) as { users: Array<{ user: Record<string, string> }> };
  forged.users[0]!.user = {
    'client-certificate-data': readFileSync(join(dir, 'admin.crt')).toString('base64'),
    'client-key-data': readFileSync(join(dir, 'admin.key')).toString('base64'),
  };
  const cpHost = hosts.get(cp.name)!;
  const saved = (await cpHost.readFiles([ADMIN_CONF])).get(ADMIN_CONF)!;
  await cpHost.writeFiles([{ path: ADMIN_CONF, content: stringify(forged), mode: saved.mode }]);
  try {
    const other = await adopt(cp.ip, out);
    expect(other.code, other.stdout + other.stderr).toBe(1);
    expect(other.stderr).toContain(`error: not adopted: the API server on cp-1 (${cp.ip}) does not accept /etc/kubernetes/admin.conf (401`);
  } finally {
    await cpHost.writeFiles([{ path: ADMIN_CONF, content: saved.content, mode: saved.mode }]);
  }

  // kubeadm-config naming an external etcd (the cluster's own ConfigMap, put back afterwards)
  const live = JSON.parse(await kubectl(kubeconfig, ['-n', 'kube-system', 'get', 'configmap', 'kubeadm-config', '-o', 'json'])) as {
    data: Record<string, string>;
    metadata: Record<string, unknown>;
  };
  const config = parse(live.data.ClusterConfiguration!) as Record<string, unknown>;
  const external = {
    ...live,
    metadata: { name: 'kubeadm-config', namespace: 'kube-system' },
    data: {
      ...live.data,
      ClusterConfiguration: stringify({
        ...config,
        etcd: {
          external: {
            endpoints: ['https://10.77.1.200:2379'],
            caFile: '/etc/etcd/ca.crt',
            certFile: '/etc/etcd/client.crt',
            keyFile: '/etc/etcd/client.key',
          },
        },
      }),
    },
  };
  const patched = join(dir, 'kubeadm-config.json');
  writeFileSync(patched, JSON.stringify(external));
  await kubectl(kubeconfig, ['replace', '-f', patched]);
  try {
    const etcd = await adopt(cp.ip, out);
    expect(etcd.code, etcd.stdout + etcd.stderr).toBe(1);
    expect(etcd.stderr).toContain(
      `error: not adopted: the cluster's etcd is external (https://10.77.1.200:2379) and kubestrap cannot reach it from cp-1 (${cp.ip}): no /etc/etcd/ca.crt, /etc/etcd/client.crt, /etc/etcd/client.key there`,
    );
  } finally {
    writeFileSync(patched, JSON.stringify({ ...live, metadata: { name: 'kubeadm-config', namespace: 'kube-system' } }));
    await kubectl(kubeconfig, ['replace', '-f', patched]);
  }
  expect(existsSync(out)).toBe(false);
  expect(kubernetesFiles(cluster.nodes)).toEqual(files);
}, 180_000);

test('remove-node on the adopted cluster drains the third worker, resets its host and deletes its Node', async () => {
  const removed = await adoption.run(['remove-node', spare.name, '--yes', '--output', 'plain']);
  expect(removed.code, removed.stdout + removed.stderr).toBe(0);
  const nodes = JSON.parse(await kubectl(kubeconfig, ['get', 'nodes', '-o', 'json'])) as { items: Array<{ metadata: { name: string } }> };
  expect(nodes.items.map((n) => n.metadata.name).sort()).toEqual(kubeadmNodes.map((n) => n.name).sort());
  expect(cluster.lab.inside(spare, 'find /etc/kubernetes -type f; systemctl is-active kubelet || true').trim()).toBe('inactive');
}, 300_000);
