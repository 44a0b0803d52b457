/**
 * kubestrap apply joins the inventory's workers itself (kubelet client certificates issued from
 * the cluster CA, the kubelets started while the control plane comes up): all three nodes Ready,
 * a pod on each worker Running and reachable from the other; the add-ons kubestrap deployed run
 * (Flannel VXLAN, kube-proxy, CoreDNS, metrics-server, from the lab's images of their real
 * binaries): pod to pod across workers, a Service through kube-proxy, names through CoreDNS,
 * `kubectl top`; a second apply changes nothing; a worker that left is joined again by the next
 * apply, the others untouched; an add-on that cannot start is named with why.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, test } from 'vitest';
import { parse, stringify } from 'yaml';
import { pollUntil } from '../../src/util/poll.js';
import { runCli, tempDir } from '../lab/helpers.js';
import type { LabHost } from '../lab/lab.js';
import { AGNHOST_IMAGE, type ClusterLab } from './cluster-lab.js';
import { startWithInventory } from './inventory.js';
import { busyboxPod, kubectl, kubectlAnswer, kubectlOutput, waitFor } from './kubectl.js';
import { emptyAttributeRequest } from '../unit/crafted-csr.js';
import { kubeletServingRequest } from '../unit/openssl.js';

let cluster: ClusterLab;
let inventory: string;
const home = tempDir('e2e-join-home');
const env = { KUBESTRAP_HOME: home };
let kubeconfig = '';

type Report = { hosts: Array<{ name: string; changes: Array<{ phase: string }> }> };

/** Hosts whose join-workers phase made a change, from an apply --report file. */
function joinedHosts(file: string): string[] {
  const report = JSON.parse(readFileSync(join(home, file), 'utf8')) as Report;
  return report.hosts
    .filter((h) => h.changes.some((c) => c.phase === 'join-workers'))
    .map((h) => h.name)
    .sort();
}

beforeAll(async () => {
  ({ cluster, inventory } = await startWithInventory('e2e-join', { workers: 2 }));
  return () => cluster.stop();
});

test('the workers join through kubestrap apply: 3 nodes Ready, a pod Running on each worker, pods reach each other across nodes', async () => {
  const result = await runCli(['apply', '-i', inventory, '--report', join(home, 'first.json')], env);
  expect(result.code, result.stdout + result.stderr).toBe(0);
  expect(joinedHosts('first.json')).toEqual(cluster.workers.map((w) => w.name).sort());
  kubeconfig = /^admin kubeconfig: (\S+)/m.exec(result.stdout)![1]!;
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'node', '--all', '--timeout=240s'], 260_000);
  expect((await kubectl(kubeconfig, ['get', 'nodes', '-o', 'name'])).trim().split('\n').sort()).toEqual(
    cluster.nodes.map((n) => `node/${n.name}`).sort(),
  );
  // the controller-manager makes namespace default's service account a moment after it starts; apply may end first
  await kubectl(kubeconfig, ['wait', '--for=create', 'serviceaccount/default', '--timeout=120s'], 130_000);
  for (const w of cluster.workers) {
    const file = join(home, `probe-${w.name}.json`);
    writeFileSync(file, busyboxPod(`probe-${w.name}`, w.name));
    await kubectl(kubeconfig, ['apply', '-f', file]);
  }
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'pod', '-l', 'app=kubestrap-e2e', '--timeout=180s'], 200_000);
  const pods = JSON.parse(await kubectl(kubeconfig, ['get', 'pods', '-l', 'app=kubestrap-e2e', '-o', 'json'])) as {
    items: Array<{ metadata: { name: string }; spec: { nodeName: string }; status: { phase: string; podIP: string } }>;
  };
  expect(pods.items.map((p) => [p.spec.nodeName, p.status.phase]).sort()).toEqual(cluster.workers.map((w) => [w.name, 'Running']));
  const ping = await kubectl(kubeconfig, [
    'exec',
    pods.items[0]!.metadata.name,
    '--',
    'ping',
    '-c',
    '2',
    '-W',
    '5',
    pods.items[1]!.status.podIP,
  ]);
  expect(ping).toMatch(/2 packets transmitted, 2 packets received/);
});

/** A pod of agnhost's netexec (HTTP on 8080) on one node, named so that the headless Service `nets` gives it a DNS name. */
function netexecPod(name: string, nodeName: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'netexec' } },
    spec: {
      hostname: name,
      subdomain: 'nets',
      nodeName,
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'netexec', image: AGNHOST_IMAGE, imagePullPolicy: 'Never', args: ['netexec', '--http-port=8080'] }],
    },
  });
}

test('the add-ons run: every kube-system and kube-flannel pod Running and Ready; Flannel carries pod to pod across workers, kube-proxy a Service, CoreDNS the names, metrics-server kubectl top', async () => {
  const waited = await runCli(['apply', '-i', inventory, '--wait-addons', '4m'], env);
  expect(waited.code, waited.stdout + waited.stderr).toBe(0);
  expect(waited.stdout).not.toMatch(/add-on not Ready/);
  type Pods = {
    items: Array<{
      metadata: { name: string; namespace: string };
      spec: { nodeName: string };
      status: { phase: string; podIP: string; conditions?: Array<{ type: string; status: string }> };
    }>;
  };
  let system!: Pods;
  let notReady: string[] = [];
  // a static pod's mirror reads Pending for the moment its kubelet restarts it (a control-plane
  // component that lost its lease on a loaded machine): the state asked for is the settled one
  await waitFor(async () => {
    system = JSON.parse(await kubectl(kubeconfig, ['get', 'pods', '-A', '-o', 'json'])) as Pods;
    notReady = system.items
      .filter((p) => p.status.phase !== 'Running' || !p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
      .map((p) => `${p.metadata.namespace}/${p.metadata.name} ${p.status.phase}`);
    return notReady.length === 0;
  }, 120_000).catch(() => undefined);
  expect(notReady).toEqual([]);
  const names = system.items.map(
    (p) => `${p.metadata.namespace}/${p.metadata.name.replace(/-[a-z0-9]{5}$/, '').replace(/-[a-f0-9]{8,10}$/, '')}`,
  );
  for (const addon of ['kube-flannel/kube-flannel-ds', 'kube-system/kube-proxy', 'kube-system/coredns', 'kube-system/metrics-server'])
    expect(names, addon).toContain(addon);
  expect(names.filter((n) => n === 'kube-flannel/kube-flannel-ds')).toHaveLength(cluster.nodes.length);
  // Flannel's VXLAN device on every node, no route the lab made
  for (const node of cluster.nodes) expect(await cluster.lab.run(node, 'ip -d link show flannel.1'), node.name).toMatch(/vxlan id 1 /);

  const dir = tempDir('e2e-netexec');
  const [w1, w2] = cluster.workers;
  for (const [name, node] of [
    ['net-1', w1!],
    ['net-2', w2!],
  ] as const)
    writeFileSync(join(dir, `${name}.json`), netexecPod(name, node.name));
  writeFileSync(
    join(dir, 'services.json'),
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'net' },
          spec: { selector: { app: 'netexec' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
        },
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'nets' },
          spec: { clusterIP: 'None', selector: { app: 'netexec' }, ports: [{ name: 'http', port: 8080 }] },
        },
      ],
    }),
  );
  for (const f of ['net-1.json', 'net-2.json', 'services.json']) await kubectl(kubeconfig, ['apply', '-f', join(dir, f)]);
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'pod/net-1', 'pod/net-2', '--timeout=120s'], 130_000);
  const ipOf = async (pod: string) => (await kubectl(kubeconfig, ['get', 'pod', pod, '-o', 'jsonpath={.status.podIP}'])).trim();
  const inNet1 = (...command: string[]) => kubectlAnswer(kubeconfig, ['exec', 'net-1', '--', ...command]);
  const net2 = await ipOf('net-2');
  // worker-1 → worker-2, pod IP to pod IP, over flannel.1
  expect(await inNet1('wget', '-qO-', `http://${net2}:8080/hostname`)).toBe('net-2');
  // the Service's ClusterIP, through kube-proxy's rules, reaches both pods
  const clusterIp = (await kubectl(kubeconfig, ['get', 'service', 'net', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
  const answers = new Set<string>();
  await waitFor(async () => {
    answers.add(await inNet1('wget', '-qO-', `http://${clusterIp}/hostname`));
    return answers.has('net-1') && answers.has('net-2');
  }, 60_000);
  // CoreDNS: the API's name, a Service, a headless Service's pod, an SRV record (FQDNs: no search path)
  expect(await inNet1('nslookup', 'kubernetes.default.svc.cluster.local.')).toMatch(
    /Name:\s+kubernetes\.default\.svc\.cluster\.local\s+Address: 10\.96\.0\.1/,
  );
  expect(await inNet1('nslookup', 'net.default.svc.cluster.local.')).toContain(`Address: ${clusterIp}`);
  expect(await inNet1('nslookup', 'net-2.nets.default.svc.cluster.local.')).toContain(`Address: ${net2}`);
  expect(await inNet1('nslookup', '-type=SRV', '_http._tcp.net.default.svc.cluster.local.')).toMatch(
    /service = 0 100 80 net\.default\.svc\.cluster\.local/,
  );
  // metrics-server through the aggregation layer (the API server's front-proxy client certificate)
  expect(
    await kubectl(kubeconfig, [
      'get',
      'apiservice',
      'v1beta1.metrics.k8s.io',
      '-o',
      'jsonpath={.status.conditions[?(@.type=="Available")].status}',
    ]),
  ).toBe('True');
  let top = '';
  await waitFor(async () => {
    top = await kubectlAnswer(kubeconfig, ['top', 'nodes', '--no-headers']);
    return top.split('\n').filter((l) => /^\S+\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%$/.test(l.trim())).length === cluster.nodes.length;
  }, 120_000);
  expect(
    top
      .split('\n')
      .map((l) => l.split(/\s+/)[0])
      .sort(),
  ).toEqual(cluster.nodes.map((n) => n.name).sort());
  // a pod is listed once metrics-server has two samples of each of its containers (15 s apart):
  // a node's figures can come first, as they did in CI13
  const coreDnsTop = /^kube-system\s+coredns-\S+\s+\d+m\s+\d+Mi\s*$/m;
  let pods = '';
  // on a timeout, the last listing is the message
  await waitFor(
    async () => coreDnsTop.test((pods = await kubectlAnswer(kubeconfig, ['top', 'pods', '-A', '--no-headers']))),
    120_000,
  ).catch(() => undefined);
  expect(pods).toMatch(coreDnsTop);
  // no kubectl call stumbles over an API group it cannot discover
  const { stderr } = await kubectlOutput(kubeconfig, ['get', 'pods', '-A']);
  expect(stderr).not.toMatch(/couldn't get resource list/);
  await kubectl(kubeconfig, ['delete', 'pod', 'net-1', 'net-2', '--wait=false']);
}, 600_000);

test("each worker's kubelet swaps the key kubestrap issued for one of its own (the cluster approves its self-renewal); no join marker or bootstrap kubeconfig is left", async () => {
  for (const w of cluster.workers) {
    // the certificate kubestrap put into kubelet.conf, and the one the kubelet serves from its store
    const issued = await cluster.lab.run(
      w,
      "sed -n 's/^ *client-certificate-data: //p' /etc/kubernetes/kubelet.conf | base64 -d | openssl x509 -noout -pubkey",
    );
    const current = () => cluster.lab.run(w, 'openssl x509 -noout -pubkey -in /var/lib/kubelet/pki/kubelet-client-current.pem');
    const own = await pollUntil(async () => ((await current()) !== issued ? current() : undefined), {
      timeoutMs: 120_000,
      intervalMs: 1000,
      failure: () => `${w.name}'s kubelet still uses the key kubestrap issued`,
    });
    expect(own, w.name).toContain('PUBLIC KEY');
    expect(await cluster.lab.run(w, 'openssl x509 -noout -subject -in /var/lib/kubelet/pki/kubelet-client-current.pem')).toMatch(
      new RegExp(`O ?= ?system:nodes, CN ?= ?system:node:${w.name}`),
    );
    expect(
      await cluster.lab.run(w, 'ls /etc/kubernetes/kubestrap-join-pending /etc/kubernetes/bootstrap-kubelet.conf 2>/dev/null || true'),
      w.name,
    ).toBe('');
  }
});

/** A kubelet-serving CSR created with a node's own kubelet credentials, as a root-compromised node could. */
async function csrAsNode(node: (typeof cluster.workers)[number], name: string, pem: string): Promise<void> {
  const dir = tempDir(`e2e-csr-${name}`);
  const credentials = await cluster.lab.run(node, 'cat /var/lib/kubelet/pki/kubelet-client-current.pem');
  const admin = parse(readFileSync(kubeconfig, 'utf8')) as { clusters: Array<{ cluster: Record<string, string> }> };
  const asNode = {
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'node',
    clusters: [{ name: 'c', cluster: admin.clusters[0]!.cluster }],
    users: [
      {
        name: 'node',
        user: {
          'client-certificate-data': Buffer.from(
            credentials.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/)![0],
          ).toString('base64'),
          'client-key-data': Buffer.from(
            credentials.match(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----\n/)![0],
          ).toString('base64'),
        },
      },
    ],
    contexts: [{ name: 'node', context: { cluster: 'c', user: 'node' } }],
  };
  writeFileSync(join(dir, 'kubeconfig'), stringify(asNode), { mode: 0o600 });
  const csr = {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name },
    spec: {
      signerName: 'kubernetes.io/kubelet-serving',
      usages: ['digital signature', 'server auth'],
      request: Buffer.from(pem).toString('base64'),
    },
  };
  writeFileSync(join(dir, 'csr.json'), JSON.stringify(csr));
  await kubectl(join(dir, 'kubeconfig'), ['create', '-f', join(dir, 'csr.json')]);
}

test('H2/M2 on the real cluster: a node asking for the API service name or the endpoint is left pending with a warning; a request the API accepts but kubestrap cannot read does not stop apply', async () => {
  const worker = cluster.workers[0]!;
  await csrAsNode(
    worker,
    'h2-service-name',
    kubeletServingRequest(worker.name, `DNS:${worker.name},DNS:kubernetes.default.svc.cluster.local`),
  );
  await csrAsNode(worker, 'h2-endpoint', kubeletServingRequest(worker.name, `DNS:${worker.name},IP:${cluster.controlPlanes[0]!.ip}`));
  await csrAsNode(worker, 'm2-empty-attribute', emptyAttributeRequest(worker.name));
  const result = await runCli(['apply', '-i', inventory, '--output', 'plain'], env);
  expect(result.code, result.stdout + result.stderr).toBe(0);
  expect(result.stdout).toMatch(
    /kubelet serving certificate request h2-service-name left pending: asks for names of the API server or the cluster's services: kubernetes\.default\.svc\.cluster\.local/,
  );
  expect(result.stdout).toMatch(
    new RegExp(
      `kubelet serving certificate request h2-endpoint left pending: asks for names that are not ${worker.name}'s: ${cluster.controlPlanes[0]!.ip.replaceAll('.', '\\.')}`,
    ),
  );
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
  await cluster.lab.run(
    gone,
    'systemctl stop kubelet && rm -f /etc/kubernetes/kubelet.conf /etc/kubernetes/bootstrap-kubelet.conf && rm -rf /var/lib/kubelet/pki',
  );
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
      if (host.name === tainted.name)
        Object.assign(host, {
          labels: { 'example.com/pool': labelValue },
          taints: [{ key: 'example.com/dedicated', value: 'batch', effect: 'NoExecute' }],
        });
    }
    const file = join(tempDir('e2e-marks'), 'inventory.yaml');
    writeFileSync(file, stringify(doc));
    return file;
  };
  const nodeOf = async (name: string) =>
    JSON.parse(await kubectl(kubeconfig, ['get', 'node', name, '-o', 'json'])) as {
      metadata: { labels: Record<string, string> };
      spec: { taints?: Array<{ key: string; value?: string; effect: string }> };
    };
  const changesOf = (file: string) =>
    (
      JSON.parse(readFileSync(join(home, file), 'utf8')) as {
        hosts: Array<{ name: string; changes: Array<{ phase: string; target: string }> }>;
      }
    ).hosts.flatMap((h) => h.changes.map((c) => `${c.phase} ${c.target}`));

  const first = await runCli(['apply', '-i', marked('a'), '--report', join(home, 'marks-1.json')], env);
  expect(first.code, first.stdout + first.stderr).toBe(0);
  expect(changesOf('marks-1.json')).toEqual(
    expect.arrayContaining([`cluster-objects Node ${cp.name}`, `cluster-objects Node ${tainted.name}`]),
  );
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
  const tokens = JSON.parse(
    await kubectl(kubeconfig, [
      'get',
      'secrets',
      '-n',
      'kube-system',
      '--field-selector',
      'type=bootstrap.kubernetes.io/token',
      '-o',
      'json',
    ]),
  ) as { items: Array<{ data: { description?: string } }> };
  expect(
    tokens.items.map((t) => Buffer.from(t.data.description ?? '', 'base64').toString()).filter((d) => d.startsWith('kubestrap: joining')),
  ).toEqual([]);
  // managedFields name kubestrap, not a generic client
  expect(
    await kubectl(kubeconfig, [
      'get',
      'configmap',
      '-n',
      'kube-system',
      'kubeadm-config',
      '-o',
      'jsonpath={.metadata.managedFields[*].manager}',
    ]),
  ).toMatch(/\bkubestrap\b/);
  // the tests after this one apply the first inventory, which names no taint: kubestrap removes
  // no taint it was once given, so the worker is made schedulable again by hand
  await kubectl(kubeconfig, ['taint', 'node', tainted.name, 'example.com/dedicated-']);
});

test('an add-on that cannot start is named with why: a metrics-server image the mirror lacks (apply --wait-addons ends long before its limit, naming pod, image, registry, ImagePullBackOff); a CoreDNS with no name server to forward to (its crash loop and last log line; preflight names the nodes)', async () => {
  const image = 'registry.local/metrics-server:v0.7.2';
  await Promise.all(cluster.nodes.map((n) => cluster.lab.run(n, `ctr -n k8s.io images rm ${image} >/dev/null`)));
  await kubectl(kubeconfig, ['-n', 'kube-system', 'delete', 'pod', '-l', 'k8s-app=metrics-server', '--wait=false']);
  const failed = await runCli(['apply', '-i', inventory, '--wait-addons', '5m', '--output', 'plain'], env);
  expect(failed.code).toBe(1);
  expect(failed.stdout).toMatch(
    /the add-ons will not become Ready by waiting:\n\s+Deployment kube-system\/metrics-server pod metrics-server-\S+: (ImagePullBackOff|ErrImagePull): image registry\.local\/metrics-server:v0\.7\.2 cannot be pulled from registry\.local: .*lookup registry\.local/,
  );
  expect(failed.stdout).toMatch(/APIService v1beta1\.metrics\.k8s\.io: not available/);

  await Promise.all(cluster.workers.map((w) => cluster.lab.run(w, "echo '# no name server' > /etc/resolv.conf")));
  // the new CoreDNS pods go to the workers, whose resolv.conf names no server (the control plane,
  // untainted by the test before, still has one)
  await kubectl(kubeconfig, ['cordon', cluster.controlPlane.name]);
  await kubectl(kubeconfig, ['-n', 'kube-system', 'delete', 'pod', '-l', 'k8s-app=kube-dns']);
  await waitFor(
    async () =>
      (
        await kubectl(kubeconfig, [
          '-n',
          'kube-system',
          'get',
          'pods',
          '-l',
          'k8s-app=kube-dns',
          '-o',
          'jsonpath={.items[*].status.containerStatuses[0].state.waiting.reason}',
        ])
      ).includes('CrashLoopBackOff'),
    180_000,
  );
  const plan = await runCli(['plan', '-i', inventory, '--output', 'plain'], env);
  expect(plan.stdout).toMatch(
    /add-on not Ready: Deployment kube-system\/coredns pod coredns-\S+: (CrashLoopBackOff|restarting): container coredns keeps exiting \(\d+ restarts, last exit code 1\); its last log lines: plugin\/forward: no nameservers found/,
  );
  expect(plan.stdout).toMatch(
    new RegExp(`\\[WARNING NameServers\\] ${cluster.workers.map((w) => w.name).join(', ')}: /etc/resolv\\.conf names no name server`),
  );
  // the doctor finds the same, each with its fix
  const doctor = await runDoctor(['--only', 'cluster']);
  expect(doctor.code, doctor.text).toBe(2);
  expect(doctor.report.findings.map((f) => `${f.severity} ${f.subject}: ${f.problem}`)).toEqual(
    expect.arrayContaining([
      expect.stringMatching(
        /^error Deployment kube-system\/coredns pod coredns-\S+: (CrashLoopBackOff|restarting): container coredns keeps exiting .*plugin\/forward: no nameservers found/,
      ),
      expect.stringMatching(
        /^error Deployment kube-system\/metrics-server pod metrics-server-\S+: (ImagePullBackOff|ErrImagePull): image registry\.local\/metrics-server:v0\.7\.2/,
      ),
      expect.stringMatching(/^error APIService v1beta1\.metrics\.k8s\.io: not available/),
    ]),
  );
  expect(doctor.report.findings.find((f) => f.subject.startsWith('Deployment kube-system/coredns'))?.fix).toMatch(
    /^kubectl -n kube-system logs coredns-\S+ --previous/,
  );

  await kubectl(kubeconfig, ['uncordon', cluster.controlPlane.name]);

  // put back what the site has, and the add-ons recover by themselves
  await Promise.all(
    cluster.nodes.map((n) =>
      cluster.lab.run(
        n,
        `echo 'nameserver ${cluster.lab.gateway}' > /etc/resolv.conf; ctr -n k8s.io images import /var/cache/kubestrap-lab-addon-images/metrics-server.tar >/dev/null`,
      ),
    ),
  );
  await kubectl(kubeconfig, ['-n', 'kube-system', 'delete', 'pod', '-l', 'k8s-app in (kube-dns, metrics-server)', '--wait=false']);
  const recovered = await runCli(['apply', '-i', inventory, '--wait-addons', '5m'], env);
  expect(recovered.code, recovered.stdout + recovered.stderr).toBe(0);
}, 900_000);

type DoctorReport = {
  schema: string;
  errors: number;
  warnings: number;
  findings: Array<{ severity: string; group: string; subject: string; problem: string; why: string; fix: string }>;
};

/** kubestrap doctor with --output json: its exit code, its report parsed, and the text to show when an assertion fails. */
async function runDoctor(args: readonly string[] = []): Promise<{ code: number; report: DoctorReport; text: string }> {
  const r = await runCli(['doctor', '-i', inventory, '--output', 'json', ...args], env);
  const report = JSON.parse(r.stdout) as DoctorReport;
  expect(report.schema).toBe('kubestrap.dev/doctor/v1');
  return { code: r.code, report, text: r.stdout + r.stderr };
}

test('kubestrap doctor: the healthy cluster has no finding; a kernel setting reverted, containerd stopped, a webhook failing closed with no Service and a host that does not answer SSH are each a finding naming the host or object and its fix; the rest of the report stands; after the fixes, healthy again', async () => {
  const [worker1, worker2] = cluster.workers as [LabHost, LabHost];
  const started = Date.now();
  const healthy = await runCli(['doctor', '-i', inventory], env);
  // a figure for the note (issue: the 3-node lab examined in 10 s or less), not an assertion
  console.log(`doctor on the healthy 3-node cluster: ${((Date.now() - started) / 1000).toFixed(1)} s, the kubestrap process included`);
  expect(healthy.code, healthy.stdout + healthy.stderr).toBe(0);
  expect(healthy.stdout.trim()).toBe('doctor: healthy, no finding (3 hosts; checks: hosts, certificates, etcd, cluster)');

  // JSON: YAML 1.1 readers (kubectl) take an unquoted yes for a boolean
  const webhook = join(home, 'webhook.json');
  writeFileSync(
    webhook,
    JSON.stringify({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: 'doctor-test' },
      webhooks: [
        {
          name: 'check.doctor-test.example.com',
          // fails closed, but only for namespaces labelled doctor-test: nothing else is refused
          failurePolicy: 'Fail',
          namespaceSelector: { matchLabels: { 'doctor-test': 'yes' } },
          rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] }],
          clientConfig: { service: { namespace: 'doctor-test', name: 'absent' } },
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
        },
      ],
    }),
  );
  await kubectl(kubeconfig, ['apply', '-f', webhook]);
  cluster.lab.inside(worker1, 'sysctl -q -w net.ipv4.ip_forward=0');
  cluster.lab.inside(worker2, 'systemctl stop containerd');
  const sick = await runDoctor();
  expect(sick.code, sick.text).toBe(2);
  const lines = sick.report.findings.map((f) => `${f.severity} ${f.subject}: ${f.problem} => ${f.fix}`);
  expect(lines, sick.text).toEqual(
    expect.arrayContaining([
      `error ${worker1.name}: kernel setting net.ipv4.ip_forward is 0, not 1 => kubestrap apply --only sysctl --hosts ${worker1.name} -i ${inventory}`,
      expect.stringMatching(
        new RegExp(
          `^error ${worker2.name}: containerd is not running.* => on ${worker2.name}: systemctl daemon-reload && systemctl enable --now containerd$`,
        ),
      ),
      "error ValidatingWebhookConfiguration doctor-test (webhook check.doctor-test.example.com): fails closed and its Service doctor-test/absent does not exist => kubectl delete validatingwebhookconfiguration doctor-test (when what served it is gone), or start its Service's pods again",
    ]),
  );
  expect(sick.report.errors).toBe(sick.report.findings.filter((f) => f.severity === 'error').length);

  // a host that does not answer is a finding; every other check still reports
  cluster.lab.inside(worker1, 'systemctl stop ssh');
  try {
    const cut = await runDoctor();
    expect(cut.code, cut.text).toBe(2);
    const has = (subject: string, problem: string) =>
      cut.report.findings.some((f) => f.subject === subject && f.problem.startsWith(problem));
    expect(has(worker1.name, 'unreachable: '), cut.text).toBe(true);
    expect(has(worker2.name, 'containerd is not running'), cut.text).toBe(true);
    expect(has('ValidatingWebhookConfiguration doctor-test (webhook check.doctor-test.example.com)', 'fails closed'), cut.text).toBe(true);
  } finally {
    cluster.lab.inside(worker1, 'systemctl start ssh');
  }

  // the fixes, as the findings print them
  const sysctlFix = await runCli(['apply', '--only', 'sysctl', '--hosts', worker1.name, '-i', inventory], env);
  expect(sysctlFix.code, sysctlFix.stdout + sysctlFix.stderr).toBe(0);
  cluster.lab.inside(worker2, 'systemctl daemon-reload && systemctl enable --now containerd');
  await kubectl(kubeconfig, ['delete', 'validatingwebhookconfiguration', 'doctor-test']);
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'node', '--all', '--timeout=180s'], 200_000);
  // the pods on worker-2 come back as its kubelet meets containerd again
  let last: Awaited<ReturnType<typeof runDoctor>> | undefined;
  await waitFor(async () => (last = await runDoctor()).code === 0, 180_000).catch(() => undefined);
  expect(last?.code, last?.text).toBe(0);
  expect(last?.report.findings).toEqual([]);
}, 600_000);
