/**
 * Hostile and malformed inventory values, refused before any host is touched (audit M1, M3, M4,
 * L7, L8), and node marks as the inventory gives them (M4).
 */
import { describe, expect, it } from 'vitest';
import { InventoryError } from '../../src/inventory/issues.js';
import { parseInventory } from '../../src/inventory/load.js';
import { resolveHosts } from '../../src/inventory/resolve.js';
import { describeMarks, marksMatch, nodeMarks } from '../../src/kube/node-marking.js';
import { inside } from '../../src/util/paths.js';

const base = (hosts: string, cluster = '') => `apiVersion: kubestrap.dev/v1alpha1
kind: Cluster
hosts:
${hosts}
cluster:
  kubernetesVersion: v1.37.1
${cluster}`;
const ONE = '  - {name: cp-1, address: 10.0.0.1, roles: [control-plane]}';

async function issues(text: string): Promise<string[]> {
  try {
    await parseInventory(text, 'inv.yaml', { checkKeyFiles: false });
    return [];
  } catch (err) {
    if (err instanceof InventoryError) return err.issues.map((i) => `${i.line}:${i.path}: ${i.message}`);
    throw err;
  }
}

describe('refused values', () => {
  it('M1: sysctl keys are sysctl names and values one plain line', async () => {
    expect(
      await issues(base(ONE).replace('cluster:', 'preparation:\n  sysctl:\n    "net.ipv4.ip_forward$(id>/tmp/x)": "1"\ncluster:')),
    ).toEqual([expect.stringMatching(/preparation\.sysctl\.net\.ipv4\.ip_forward\$\(id>\/tmp\/x\): key .* is not a sysctl name/)]);
    expect(
      await issues(base(ONE).replace('cluster:', 'preparation:\n  sysctl:\n    net.core.somaxconn: "1\\nkernel.panic = 0"\ncluster:')),
    ).toEqual([expect.stringMatching(/preparation\.sysctl\.net\.core\.somaxconn: holds a newline/)]);
    expect(
      await issues(base(ONE).replace('cluster:', 'preparation:\n  sysctl:\n    net.ipv4.ip_local_port_range: "1024 65000"\ncluster:')),
    ).toEqual([]);
  });

  it('M3: registry mirror names are host[:port], never paths', async () => {
    for (const key of ['../../../etc/cron.d', '/tmp/x', 'a/b', 'docker.io/../x']) {
      const found = await issues(
        base(ONE, `  containerRuntime:\n    registryMirrors:\n      ${JSON.stringify(key)}: [https://m.example.com]\n`),
      );
      expect(found, key).toEqual([expect.stringMatching(/is not a registry host\[:port\]/)]);
    }
    expect(
      await issues(
        base(
          ONE,
          '  containerRuntime:\n    registryMirrors:\n      registry.local:5000: [http://10.0.0.5:5000]\n      _default: [https://m.example.com]\n',
        ),
      ),
    ).toEqual([]);
  });

  it('M3: render never writes outside --out', () => {
    expect(inside('/tmp/out', 'cp-1/etc/containerd/certs.d/docker.io/hosts.toml')).toBe(
      '/tmp/out/cp-1/etc/containerd/certs.d/docker.io/hosts.toml',
    );
    expect(() => inside('/tmp/out', 'cp-1/etc/containerd/certs.d/../../../../../tmp/x/hosts.toml')).toThrow(
      /would be written outside \/tmp\/out/,
    );
    expect(() => inside('/tmp/out', '..')).toThrow(/outside/);
  });

  it('M4: a key given twice in any map is an error naming both lines', async () => {
    const found = await issues(base(ONE, '  apiServer:\n    extraArgs:\n      anonymous-auth: "false"\n      anonymous-auth: "true"\n'));
    expect(found).toEqual([
      '10:cluster.apiServer.extraArgs.anonymous-auth: key "anonymous-auth" is given twice (first on line 9): which one is meant?',
    ]);
  });

  it('M4: labels and taints by Kubernetes syntax', async () => {
    expect(await issues(base('  - {name: cp-1, address: 10.0.0.1, roles: [control-plane], labels: {"bad key!": x}}'))).toEqual([
      expect.stringMatching(/is not a Kubernetes label key/),
    ]);
    expect(await issues(base('  - {name: cp-1, address: 10.0.0.1, roles: [control-plane], labels: {pool: "a b"}}'))).toEqual([
      expect.stringMatching(/is not a Kubernetes label value/),
    ]);
    expect(
      await issues(base('  - {name: cp-1, address: 10.0.0.1, roles: [control-plane], taints: [{key: "x;y", effect: NoSchedule}]}')),
    ).toEqual([expect.stringMatching(/is not a Kubernetes label key/)]);
  });

  it('no newline, NUL or very long string in any single-line field', async () => {
    expect(await issues(base(ONE, '  imageRepository: "registry.local\\nx"\n'))).toEqual([
      expect.stringMatching(/cluster\.imageRepository: holds a newline or another control character/),
    ]);
    expect(await issues(base(ONE, '  imageRepository: "a\\0b"\n'))).toEqual([expect.stringMatching(/control character/)]);
    expect(await issues(base(ONE, `  imageRepository: ${'a'.repeat(5000)}\n`))).toEqual([
      expect.stringMatching(/is 5000 characters long; at most 4096/),
    ]);
  });

  it('L8: mirror URLs are http(s) without credentials; plain http needs unsigned: true', async () => {
    expect(await issues(base(ONE, '  packages:\n    source: mirror\n    mirror: "-o/tmp/x"\n'))).toEqual(
      expect.arrayContaining([expect.stringMatching(/is not an http\(s\):\/\/ URL/)]),
    );
    const withCredentials = await issues(
      base(ONE, '  packages:\n    source: mirror\n    mirror: https://user:pass@mirror.example.com/k8s\n'),
    );
    expect(withCredentials).toEqual(expect.arrayContaining([expect.stringMatching(/without user:password@/)]));
    // the refusal itself must not repeat the credentials either
    expect(withCredentials.join('\n')).not.toContain('user:pass@mirror');
    expect(await issues(base(ONE, '  packages:\n    source: mirror\n    mirror: http://mirror.example.com/k8s\n'))).toEqual([
      expect.stringMatching(/cluster\.packages\.mirror: is plain http: use https, or say unsigned: true/),
    ]);
    expect(
      await issues(base(ONE, '  packages:\n    source: mirror\n    mirror: http://mirror.example.com/k8s\n    unsigned: true\n')),
    ).toEqual([]);
    expect(
      await issues(base(ONE, '  containerRuntime:\n    source: docker\n    dockerRepository: http://mirror.example.com/docker-ce\n')),
    ).toEqual([expect.stringMatching(/dockerRepository: is plain http/)]);
  });
});

describe('node marks (M4)', () => {
  const hosts = [
    '  - {name: cp-1, address: 10.0.0.1, roles: [control-plane]}',
    '  - {name: cp-2, address: 10.0.0.2, roles: [control-plane, worker], labels: {pool: general}}',
    '  - {name: gpu-1, address: 10.0.0.3, roles: [worker], labels: {pool: gpu}, taints: [{key: dedicated, value: gpu, effect: NoExecute}]}',
  ].join('\n');

  it('control planes get kubeadm marks; one that is also a worker no NoSchedule; inventory labels and taints on every node', async () => {
    const inv = (await parseInventory(base(hosts, '  controlPlaneEndpoint: api.example.com'), 'inv.yaml', { checkKeyFiles: false }))
      .inventory;
    const [cp1, cp2, gpu] = resolveHosts(inv).map((h) => nodeMarks(inv, h));
    expect(cp1!.taints).toEqual([{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }]);
    expect(cp2!.taints).toEqual([]);
    expect(cp2!.removeTaints).toEqual([{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }]);
    expect(cp2!.labels).toMatchObject({ 'node-role.kubernetes.io/control-plane': '', pool: 'general' });
    expect(gpu).toEqual({
      labels: { pool: 'gpu' },
      taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoExecute' }],
      annotations: { 'kubeadm.alpha.kubernetes.io/cri-socket': null },
      removeTaints: [],
    });
    expect(describeMarks(gpu!)).toBe('label pool=gpu; taint dedicated=gpu:NoExecute');
    expect(
      marksMatch(gpu!, {
        metadata: { labels: { pool: 'gpu' } },
        spec: { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoExecute' }] },
      }),
    ).toBe(true);
    expect(
      marksMatch(gpu!, {
        metadata: { labels: { pool: 'cpu' } },
        spec: { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoExecute' }] },
      }),
    ).toBe(false);
    expect(
      marksMatch(gpu!, {
        metadata: { labels: { pool: 'gpu' } },
        spec: { taints: [{ key: 'dedicated', value: 'cpu', effect: 'NoExecute' }] },
      }),
    ).toBe(false);
    expect(
      marksMatch(cp2!, {
        metadata: { labels: cp2!.labels },
        spec: { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] },
      }),
    ).toBe(false);
  });
});

describe('bounds (L7)', () => {
  it('certificate validity at most 100 years; at most 5000 hosts; at most 8 MiB of inventory', async () => {
    expect(await issues(base(ONE, '  certificates:\n    validity: 99999999999h\n    caValidity: 99999999999h\n'))).toEqual([
      expect.stringMatching(/cluster\.certificates\.validity: at most 876000h/),
      expect.stringMatching(/cluster\.certificates\.caValidity: at most 876000h/),
    ]);
    const many = Array.from(
      { length: 5001 },
      (_, i) =>
        `  - {name: n-${i}, address: 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}, roles: [${i === 0 ? 'control-plane' : 'worker'}]}`,
    ).join('\n');
    expect(await issues(base(many, '  networking:\n    podSubnet: 10.0.0.0/8\n    serviceSubnet: 172.16.0.0/12\n'))).toEqual(
      expect.arrayContaining([expect.stringMatching(/5001 hosts; kubestrap handles at most 5000/)]),
    );
    expect(await issues(`${base(ONE)}# ${'x'.repeat(9 << 20)}\n`)).toEqual([expect.stringMatching(/larger than 8 MiB/)]);
  });
});
