/**
 * Air-gapped installs: package files from the workstation (cluster.packages.source: offline) are
 * uploaded and installed. The files are the lab's FAKE kubelet/kubectl/cri-tools packages.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir, writeLabInventory } from './helpers.js';
import { startLab, type Lab } from './lab.js';
import { ensurePackageRepo, FAKE_KUBE_VERSION } from './package-repo.js';

let lab: Lab;

beforeAll(async () => {
  lab = await startLab({ hosts: 1, prefix: 'off' });
});

afterAll(async () => {
  await lab?.stop();
});

describe('offline package source (FAKE kubelet/kubectl/cri-tools packages)', () => {
  it('uploads the package files, installs and holds them; a second run changes nothing', async () => {
    const offlineDir = join(ensurePackageRepo(), 'kubernetes', 'core:', 'stable:', 'v1.23', 'deb');
    const dir = tempDir('offline');
    const inventory = writeLabInventory(lab, { cluster: { packages: { source: 'offline', offlineDir } } }, dir);
    const first = await runCli(['apply', '-i', inventory, '--only', 'kube-packages', '--output', 'silent', '--report', join(dir, '1.json')]);
    expect(first.code, first.stdout).toBe(0);
    const host = lab.hosts[0]!;
    expect(lab.inside(host, 'ls /var/cache/kubestrap/packages').trim().split('\n').sort()).toEqual(['cri-tools_1.26.0-1.1_amd64.deb', 'kubectl_1.23.17-1.1_amd64.deb', 'kubelet_1.23.17-1.1_amd64.deb']);
    expect(lab.inside(host, 'kubelet --version').trim()).toBe(`Kubernetes v${FAKE_KUBE_VERSION}`);
    expect(lab.inside(host, 'apt-mark showhold').trim().split('\n').sort()).toEqual(['cri-tools', 'kubectl', 'kubelet']);
    const second = await runCli(['apply', '-i', inventory, '--only', 'kube-packages', '--output', 'silent', '--report', join(dir, '2.json')]);
    expect(second.code).toBe(0);
    expect((JSON.parse(readFileSync(join(dir, '2.json'), 'utf8')) as { hosts: Array<{ changes: unknown[] }> }).hosts[0]!.changes).toEqual([]);
  });
});
