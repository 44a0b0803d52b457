import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InventoryError, type InventoryIssue } from '../../src/inventory/issues.js';
import { loadInventory, parseInventory } from '../../src/inventory/load.js';
import { inventoryJsonSchema, withReference } from '../../src/inventory/reference.js';
import { resolveHosts } from '../../src/inventory/resolve.js';
import { resolveTargets } from '../../src/transport/credentials.js';
import { tempDir } from '../lab/helpers.js';

const dir = tempDir('inv');
const keyFile = join(dir, 'id_test');
writeFileSync(keyFile, 'not really a key, only needs to be readable\n');
const unreadableKey = join(dir, 'missing_key');

/** A valid inventory; each bad case below changes one thing. Line numbers refer to this layout. */
function inventory(overrides: { hosts?: string; cluster?: string; head?: string } = {}): string {
  return [
    overrides.head ?? 'apiVersion: kubestrap.dev/v1alpha1\nkind: Cluster',
    'hostDefaults:',
    '  user: root',
    '  auth:',
    `    keyPath: ${keyFile}`,
    'hosts:',
    overrides.hosts ??
      [
        '  - name: cp-1',
        '    address: 192.168.56.10',
        '    roles: [control-plane]',
        '  - name: worker-1',
        '    address: 192.168.56.11',
        '    roles: [worker]',
      ].join('\n'),
    'cluster:',
    overrides.cluster ?? '  kubernetesVersion: v1.23.17',
    '',
  ].join('\n');
}

async function issuesOf(text: string): Promise<InventoryIssue[]> {
  try {
    await parseInventory(text, 'bad.yaml');
  } catch (err) {
    if (err instanceof InventoryError) return [...err.issues];
    throw err;
  }
  return [];
}

const hostsWith = (second: string) => ['  - name: cp-1', '    address: 192.168.56.10', '    roles: [control-plane]', second].join('\n');

interface BadCase {
  readonly name: string;
  readonly text: string;
  readonly line: number;
  readonly path: string;
  readonly message: RegExp;
}

const badCases: BadCase[] = [
  {
    name: 'wrong apiVersion',
    text: inventory({ head: 'apiVersion: kubestrap.dev/v1\nkind: Cluster' }),
    line: 1,
    path: 'apiVersion',
    message: /must be kubestrap\.dev\/v1alpha1/,
  },
  {
    name: 'wrong kind',
    text: inventory({ head: 'apiVersion: kubestrap.dev/v1alpha1\nkind: Clustr' }),
    line: 2,
    path: 'kind',
    message: /must be Cluster/,
  },
  {
    name: 'typo in a host field',
    text: inventory({ hosts: hostsWith('  - name: worker-1\n    adress: 192.168.56.11\n    roles: [worker]') }),
    line: 12,
    path: 'hosts[1].adress',
    message: /unknown field \(did you mean address\?\)/,
  },
  {
    name: 'port given as a string',
    text: inventory({ hosts: hostsWith('  - name: worker-1\n    address: 192.168.56.11\n    port: "22x"\n    roles: [worker]') }),
    line: 13,
    path: 'hosts[1].port',
    message: /expected an integer/,
  },
  {
    name: 'unknown role',
    text: inventory({ hosts: hostsWith('  - name: worker-1\n    address: 192.168.56.11\n    roles: [master]') }),
    line: 13,
    path: 'hosts[1].roles[0]',
    message: /not one of control-plane, worker/,
  },
  {
    name: 'duplicate host name',
    text: inventory({ hosts: hostsWith('  - name: cp-1\n    address: 192.168.56.11\n    roles: [worker]') }),
    line: 11,
    path: 'hosts[1].name',
    message: /duplicate host name cp-1 \(also used by hosts\[0\]/,
  },
  {
    name: 'duplicate address',
    text: inventory({ hosts: hostsWith('  - name: worker-1\n    address: 192.168.56.10\n    roles: [worker]') }),
    line: 12,
    path: 'hosts[1].address',
    message: /duplicate address 192\.168\.56\.10/,
  },
  {
    name: 'no control plane',
    text: inventory({ hosts: '  - name: worker-1\n    address: 192.168.56.11\n    roles: [worker]' }),
    line: 8,
    path: 'hosts',
    message: /no host has the control-plane role/,
  },
  {
    name: 'invalid pod CIDR',
    text: inventory({ cluster: '  kubernetesVersion: v1.23.17\n  networking:\n    podSubnet: 172.168.0.0/33' }),
    line: 17,
    path: 'cluster.networking.podSubnet',
    message: /prefix \/33 is longer than 32 bits/,
  },
  {
    name: 'pod and service subnets overlap',
    text: inventory({
      cluster: '  kubernetesVersion: v1.23.17\n  networking:\n    podSubnet: 10.96.0.0/16\n    serviceSubnet: 10.96.0.0/12',
    }),
    line: 18,
    path: 'cluster.networking.serviceSubnet',
    message: /overlaps the pod subnet 10\.96\.0\.0\/16/,
  },
  {
    name: 'host address inside the service subnet',
    text: inventory({
      hosts: '  - name: cp-1\n    address: 10.96.0.5\n    roles: [control-plane]',
      cluster: '  kubernetesVersion: v1.23.17',
    }),
    line: 9,
    path: 'hosts[0].address',
    message: /inside the service subnet 10\.96\.0\.0\/12/,
  },
  {
    name: 'service subnet too small',
    text: inventory({ cluster: '  kubernetesVersion: v1.23.17\n  networking:\n    serviceSubnet: 10.96.0.0/29' }),
    line: 17,
    path: 'cluster.networking.serviceSubnet',
    message: /too small/,
  },
  {
    name: 'CIDR with host bits set',
    text: inventory({ cluster: '  kubernetesVersion: v1.23.17\n  networking:\n    serviceSubnet: 10.96.0.1/12' }),
    line: 17,
    path: 'cluster.networking.serviceSubnet',
    message: /host bits set; the network is 10\.96\.0\.0\/12/,
  },
  {
    name: 'version written as a YAML number',
    text: inventory({ cluster: '  kubernetesVersion: 1.20' }),
    line: 15,
    path: 'cluster.kubernetesVersion',
    message: /expected a string, got number 1\.2 \(quote the value\)/,
  },
  {
    name: 'unsupported version',
    text: inventory({ cluster: '  kubernetesVersion: v1.19.16' }),
    line: 15,
    path: 'cluster.kubernetesVersion',
    message: /v1\.19\.16 is not supported/,
  },
  {
    name: 'unreadable key file',
    text: inventory({
      hosts: hostsWith(`  - name: worker-1\n    address: 192.168.56.11\n    roles: [worker]\n    auth:\n      keyPath: ${unreadableKey}`),
    }),
    line: 15,
    path: 'hosts[1].auth.keyPath',
    message: /cannot read key file .*missing_key: no such file/,
  },
  {
    name: 'two login methods',
    text: inventory({
      hosts: hostsWith(
        `  - name: worker-1\n    address: 192.168.56.11\n    roles: [worker]\n    auth:\n      agent: true\n      passwordEnv: SSH_PASS`,
      ),
    }),
    line: 15,
    path: 'hosts[1].auth',
    message: /choose one login method, not agent and passwordEnv/,
  },
  {
    name: 'malformed pinned host key',
    text: inventory({ hosts: hostsWith('  - name: worker-1\n    address: 192.168.56.11\n    roles: [worker]\n    hostKey: MD5:aa:bb') }),
    line: 14,
    path: 'hosts[1].hostKey',
    message: /OpenSSH fingerprint like SHA256:/,
  },
  {
    name: 'sudo password without its variable',
    text: inventory({
      hosts: hostsWith(
        '  - name: worker-1\n    address: 192.168.56.11\n    roles: [worker]\n    user: ops\n    sudo:\n      mode: password',
      ),
    }),
    line: 16,
    path: 'hosts[1].sudo.passwordEnv',
    message: /required with mode: password/,
  },
  {
    name: 'two control planes without an endpoint',
    text: inventory({ hosts: hostsWith('  - name: cp-2\n    address: 192.168.56.11\n    roles: [control-plane]') }),
    line: 15,
    path: 'cluster.controlPlaneEndpoint',
    message: /required with 2 control planes/,
  },
  {
    name: 'missing required field',
    text: inventory({ hosts: hostsWith('  - name: worker-1\n    roles: [worker]') }),
    line: 11,
    path: 'hosts[1].address',
    message: /required field is missing/,
  },
  {
    name: 'invalid node name',
    text: inventory({ hosts: hostsWith('  - name: Worker_1\n    address: 192.168.56.11\n    roles: [worker]') }),
    line: 11,
    path: 'hosts[1].name',
    message: /lower-case DNS subdomain/,
  },
  {
    name: 'kube-proxy mode typo',
    text: inventory({ cluster: '  kubernetesVersion: v1.23.17\n  kubeProxy:\n    mode: ipvsx' }),
    line: 17,
    path: 'cluster.kubeProxy.mode',
    message: /"ipvsx" is not one of ipvs, iptables, nftables \(did you mean ipvs\?\)/,
  },
  {
    name: 'YAML syntax error',
    text: inventory({ cluster: '  kubernetesVersion: v1.23.17: x' }),
    line: 15,
    path: '',
    message: /YAML syntax/,
  },
];

describe('inventory validation', () => {
  it.each(badCases)('$name → line $line, $path', async (c) => {
    const issues = await issuesOf(c.text);
    const match = issues.find((i) => i.path === c.path && c.message.test(i.message));
    expect(match, `issues were:\n${issues.map((i) => `${i.line}:${i.column} ${i.path}: ${i.message}`).join('\n')}`).toBeDefined();
    expect(match!.file).toBe('bad.yaml');
    expect(match!.line).toBe(c.line);
    expect(match!.column).toBeGreaterThan(0);
  });

  it('has at least 15 bad cases', () => {
    expect(badCases.length).toBeGreaterThanOrEqual(15);
  });

  it('reports every problem at once, sorted by position', async () => {
    const text = inventory({
      hosts: hostsWith('  - name: cp-1\n    adress: 192.168.56.11\n    roles: [worker]'),
      cluster: '  kubernetesVersion: v1.19.0\n  networking:\n    podSubnet: 10.96.0.0/16',
    });
    const issues = await issuesOf(text);
    expect(issues.map((i) => i.path)).toEqual(expect.arrayContaining(['hosts[1].adress', 'hosts[1].address', 'cluster.kubernetesVersion']));
    const lines = issues.map((i) => i.line);
    expect([...lines].sort((a, b) => a - b)).toEqual(lines);
  });

  it('formats errors as file:line:column: field: message', async () => {
    const file = join(dir, 'typo.yaml');
    writeFileSync(file, inventory({ hosts: hostsWith('  - name: worker-1\n    adress: 192.168.56.11\n    roles: [worker]') }));
    await expect(loadInventory(file)).rejects.toThrow(`${file}:12:5: hosts[1].adress: unknown field (did you mean address?)`);
  });

  it('accepts a valid inventory and fills defaults', async () => {
    const loaded = await parseInventory(inventory(), 'good.yaml');
    expect(loaded.inventory.cluster.networking.serviceSubnet).toBe('10.96.0.0/12');
    expect(loaded.inventory.cluster.kubeProxy.mode).toBe('ipvs');
    expect(loaded.inventory.cluster.containerRuntime.cgroupDriver).toBe('systemd');
    // the login the inventory leaves open is settled when connecting: ssh's port, root, no sudo
    const targets = await resolveTargets(resolveHosts(loaded.inventory), { env: {} });
    expect(targets.map((t) => [t.host.name, t.endpoint.port, t.endpoint.user, t.privilege.kind])).toEqual([
      ['cp-1', 22, 'root', 'root'],
      ['worker-1', 22, 'root', 'root'],
    ]);
  });

  it('does not print secret values when an env reference is wrong', async () => {
    const issues = await issuesOf(
      inventory({
        hosts: hostsWith(
          '  - name: worker-1\n    address: 192.168.56.11\n    roles: [worker]\n    auth:\n      passwordEnv: "hunter2 is my password"',
        ),
      }),
    );
    const issue = issues.find((i) => i.path === 'hosts[1].auth.passwordEnv');
    expect(issue?.message).toMatch(/is not a valid environment variable name/);
  });
});

describe('example inventories', () => {
  for (const name of ['single-node.yaml', '1cp-2workers.yaml', 'ha-3cp.yaml', 'lab.yaml']) {
    it(`${name} is valid apart from key files that exist only on an operator's machine`, async () => {
      const text = readFileSync(join('inventories', name), 'utf8');
      const issues = await issuesOf(text);
      expect(issues.filter((i) => !/cannot read key file/.test(i.message))).toEqual([]);
    });
  }

  it('1cp-2workers.yaml mirrors the typical kubeadm 1.23 runbook', async () => {
    const text = readFileSync('inventories/1cp-2workers.yaml', 'utf8').replace(/keyPath: .*/g, `keyPath: ${keyFile}`);
    const { inventory: inv } = await parseInventory(text, '1cp-2workers.yaml');
    expect(inv.cluster.imageRepository).toBe('registry.cn-hangzhou.aliyuncs.com/google_containers');
    expect(inv.cluster.networking.podSubnet).toBe('172.168.0.0/16');
    expect(inv.cluster.networking.serviceSubnet).toBe('10.96.0.0/12');
    expect(inv.cluster.kubeProxy.mode).toBe('ipvs');
    expect(inv.cluster.cni.plugin).toBe('calico');
  });
});

describe('generated artefacts stay in sync with the schema', () => {
  it('inventories/schema.json', () => {
    const checkedIn = JSON.parse(readFileSync('inventories/schema.json', 'utf8'));
    expect(checkedIn).toEqual(inventoryJsonSchema());
  });

  it("docs/inventory.md's field reference", () => {
    const page = readFileSync('docs/inventory.md', 'utf8');
    expect(withReference(page)).toBe(page);
  });

  it('the JSON Schema rejects unknown fields like the loader does', () => {
    const schema = inventoryJsonSchema() as {
      additionalProperties: boolean;
      properties: Record<string, { items?: { additionalProperties: boolean } }>;
    };
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.hosts?.items?.additionalProperties).toBe(false);
  });
});
