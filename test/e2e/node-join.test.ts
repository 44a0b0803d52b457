/**
 * `kubestrap join` run on a node by an operator (over SSH, in the node's own shell), with the
 * join command `kubestrap token create --print-join-command` printed; the refusals users need
 * (wrong CA hash, a cluster-info altered on the way, expired and deleted tokens); and
 * `kubestrap token list/delete` against what the reference `kubeadm token list` (1.20.2)
 * prints for the same cluster — from the workstation and on the control plane itself.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { parse, stringify } from 'yaml';
import type { Host } from '../../src/transport/host.js';
import { openLabHost, runCli, tempDir } from '../lab/helpers.js';
import { KUBESTRAP_INSIDE, startClusterLab, type ClusterLab } from './cluster-lab.js';
import { e2eInventory } from './inventory.js';
import { kubectl } from './kubectl.js';

let cluster: ClusterLab;
let inventory: string;
let kubeconfig = '';
const work = tempDir('e2e-node-join');
const env = { KUBESTRAP_HOME: join(work, 'home') };
const shells = new Map<string, Host>();
let mitm: Server | undefined;

/** The node's own shell over SSH, as an operator would use it. */
async function onNode(name: string, command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let shell = shells.get(name);
  if (!shell) {
    shell = await openLabHost(
      cluster.lab,
      cluster.nodes.find((n) => n.name === name)!,
    );
    shells.set(name, shell);
  }
  const r = await shell.exec(command, { timeoutMs: 400_000 });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

const kubestrapOnNode = (name: string, args: string) => onNode(name, `node ${KUBESTRAP_INSIDE}/bin/kubestrap.js ${args}`);

async function joinCommand(extra: string[] = []): Promise<{ args: string; id: string; pin: string }> {
  const created = await runCli(['token', 'create', '--print-join-command', '-i', inventory, ...extra], env);
  expect(created.code, created.stderr).toBe(0);
  const line = created.stdout.trim();
  expect(line).toMatch(/^kubestrap join \S+:6443 --token [a-z0-9]{6}\.[a-z0-9]{16} --discovery-token-ca-cert-hash sha256:[0-9a-f]{64}$/);
  return {
    args: line.replace(/^kubestrap join /, ''),
    id: /--token ([a-z0-9]{6})\./.exec(line)![1]!,
    pin: /(sha256:[0-9a-f]{64})/.exec(line)![1]!,
  };
}

const nothingWritten = async (node: string) =>
  (await onNode(node, 'ls /etc/kubernetes/bootstrap-kubelet.conf /etc/kubernetes/kubelet.conf 2>/dev/null')).stdout.trim();

beforeAll(async () => {
  cluster = await startClusterLab({ workers: 2 });
  inventory = join(work, 'inventory.yaml');
  writeFileSync(inventory, e2eInventory(cluster));
  // the control plane only: the workers are prepared and joined by `kubestrap join` on them
  const up = await runCli(['apply', '-i', inventory, '--hosts', cluster.controlPlane.name], env);
  expect(up.code, up.stdout + up.stderr).toBe(0);
  kubeconfig = /^admin kubeconfig: (\S+)/m.exec(up.stdout)![1]!;
  for (const w of cluster.workers) await cluster.lab.run(w, `cat > /root/cluster.yaml <<'EOF'\n${readFileSync(inventory, 'utf8')}\nEOF`);
});

afterAll(async () => {
  await Promise.all([...shells.values()].map((s) => s.close()));
  mitm?.close();
  await cluster?.stop();
});

test('kubestrap join on a worker, with the command token create printed, prepares it and joins it: Node Ready; a re-run changes nothing', async () => {
  const { args } = await joinCommand();
  const worker = cluster.workers[0]!.name;
  const joined = await kubestrapOnNode(worker, `join ${args} --config /root/cluster.yaml --output plain`);
  expect(joined.code, joined.stdout + joined.stderr).toBe(0);
  expect(joined.stdout).toContain('cluster-info verified, CA matches the pinned hash');
  // the node's preparation ran there: packages came from the inventory's mirror
  expect(joined.stdout).toMatch(/kube-packages/);
  expect(joined.stdout).toContain('This node has joined the cluster');
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', `node/${worker}`, '--timeout=240s'], 260_000);
  // kubeadm's hygiene: the bootstrap kubeconfig (which holds the token) is gone once the kubelet has its own
  expect(await nothingWritten(worker)).toBe('/etc/kubernetes/kubelet.conf');
  const again = await kubestrapOnNode(worker, `join ${args} --config /root/cluster.yaml --output plain`);
  expect(again.code, again.stdout + again.stderr).toBe(0);
  expect(again.stdout).toContain('Applied: no changes were needed.');
  // the token is a secret: not in the node's run log
  const logFile = /^log: (\S+)/m.exec(joined.stdout)![1]!;
  const token = /--token (\S+)/.exec(args)![1]!;
  expect((await onNode(worker, `cat ${logFile}`)).stdout).not.toContain(token.split('.')[1]);
});

test('refused with an explicit message, nothing written: a wrong CA hash (both hashes shown)', async () => {
  const { args, pin } = await joinCommand();
  const wrong = `sha256:${'ab'.repeat(32)}`;
  const r = await kubestrapOnNode(cluster.workers[1]!.name, `join ${args.replace(pin, wrong)} --skip-phases prepare`);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("the cluster's CA does not match --discovery-token-ca-cert-hash");
  expect(r.stderr).toContain(`public key hash is ${pin}, but the command expects ${wrong}`);
  expect(await nothingWritten(cluster.workers[1]!.name)).toBe('');
});

test('refused: cluster-info altered on the way (a man in the middle points the server elsewhere; the JWS no longer verifies)', async () => {
  const { args, pin } = await joinCommand();
  const live = JSON.parse(await kubectl(kubeconfig, ['-n', 'kube-public', 'get', 'configmap', 'cluster-info', '-o', 'json'])) as {
    data: Record<string, string>;
  };
  const port = 16443;
  const forged = parse(live.data.kubeconfig!) as { clusters: Array<{ cluster: Record<string, string> }> };
  forged.clusters[0]!.cluster.server = `https://${cluster.lab.gateway}:${port}`;
  const body = JSON.stringify({ ...live, data: { ...live.data, kubeconfig: stringify(forged) } });
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      join(work, 'mitm.key'),
      '-out',
      join(work, 'mitm.crt'),
      '-days',
      '1',
      '-subj',
      '/CN=mitm',
    ],
    { stdio: 'ignore' },
  );
  mitm = createServer({ key: readFileSync(join(work, 'mitm.key')), cert: readFileSync(join(work, 'mitm.crt')) }, (_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end(body),
  );
  await new Promise<void>((resolve) => mitm!.listen(port, cluster.lab.gateway, resolve));
  const r = await kubestrapOnNode(
    cluster.workers[1]!.name,
    `join ${cluster.lab.gateway}:${port} ${args.replace(/^\S+ /, '')} --skip-phases prepare`,
  );
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/cluster-info from https:\/\/\S+ is not signed by token "[a-z0-9]{6}": the signature does not verify/);
  expect(r.stderr).toContain('altered the answer');
  expect(args).toContain(pin);
  expect(await nothingWritten(cluster.workers[1]!.name)).toBe('');
});

test('refused: a deleted token and an expired token, each with the way out (token create --print-join-command)', async () => {
  const worker = cluster.workers[1]!.name;
  const deleted = await joinCommand();
  const del = await runCli(['token', 'delete', deleted.id, '-i', inventory], env);
  expect(del.stdout.trim()).toBe(`bootstrap token "${deleted.id}" deleted`);
  const r1 = await kubestrapOnNode(worker, `join ${deleted.args} --skip-phases prepare --discovery-timeout 8s`);
  expect(r1.code).toBe(1);
  expect(r1.stderr).toMatch(new RegExp(`token "${deleted.id}".*(expired|deleted).*kubestrap token create --print-join-command`, 's'));

  const expired = await joinCommand(['--ttl', '1s']);
  // past its expiry the API server refuses it and the controller-manager withdraws its signature
  await new Promise((r) => setTimeout(r, 3000));
  const r2 = await kubestrapOnNode(worker, `join ${expired.args} --skip-phases prepare --discovery-timeout 8s`);
  expect(r2.code).toBe(1);
  expect(r2.stderr).toMatch(new RegExp(`token "${expired.id}".*expired.*kubestrap token create --print-join-command`, 's'));
  expect(await nothingWritten(worker)).toBe('');
});

test('token list matches kubeadm token list (1.20.2) for the same cluster, from the workstation and on the control plane; token delete removes what kubeadm then no longer lists', async () => {
  const cp = cluster.controlPlane.name;
  const install = await onNode(
    cp,
    `DEBIAN_FRONTEND=noninteractive apt-get install -y -q kubeadm=${cluster.kubernetesVersion.slice(1)}-1.1 >/dev/null 2>&1; kubeadm version -o short`,
  );
  expect(install.stdout.trim()).toBe(cluster.kubernetesVersion);
  const forever = await runCli(
    ['token', 'create', '--ttl', '0', '--usages', 'authentication', '--groups', 'system:bootstrappers:e2e', '-i', inventory],
    env,
  );
  expect(forever.code, forever.stderr).toBe(0);
  const described = await runCli(['token', 'create', '--ttl', '2h', '--description', 'rack 7 workers', '-i', inventory], env);
  expect(described.code, described.stderr).toBe(0);

  const kubeadm = (await onNode(cp, 'kubeadm token list')).stdout;
  const fromWorkstation = await runCli(['token', 'list', '-i', inventory], env);
  const onControlPlane = await kubestrapOnNode(cp, 'token list');
  expect(kubeadm).toContain(forever.stdout.trim());
  expect(kubeadm).toMatch(/<forever>\s+<never>\s+authentication\s+<none>\s+system:bootstrappers:e2e/);
  expect(fromWorkstation.stdout).toBe(kubeadm);
  expect(onControlPlane.stdout).toBe(kubeadm);

  const id = forever.stdout.trim().split('.')[0]!;
  const del = await kubestrapOnNode(cp, `token delete ${forever.stdout.trim()}`);
  expect(del.stdout.trim()).toBe(`bootstrap token "${id}" deleted`);
  const after = (await onNode(cp, 'kubeadm token list')).stdout;
  expect(after).not.toContain(id);
  expect(after).toContain(described.stdout.trim());
  expect((await runCli(['token', 'list', '-i', inventory], env)).stdout).toBe(after);
});
