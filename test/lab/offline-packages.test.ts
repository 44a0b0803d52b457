/**
 * Air-gapped installs: package files from the workstation (cluster.packages.source: offline) are
 * uploaded, installed and removed. The files are the lab's FAKE kubelet/kubectl/cri-tools
 * packages. A hostile bundle naming a workstation file as a package never reaches the node.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeTar } from '../unit/crafted-bundle.js';
import { runCli, tempDir, writeLabInventory } from './helpers.js';
import { startLab, type Lab } from './lab.js';
import { ensurePackageRepo, FAKE_KUBE_VERSION } from './package-repo.js';
import { readReport } from './report.js';

let lab: Lab;

beforeAll(async () => {
  lab = await startLab({ hosts: 1, prefix: 'off' });
  return () => lab.stop();
});

describe('offline package source (FAKE kubelet/kubectl/cri-tools packages)', () => {
  it("a bundle naming the operator's SSH key as a package is refused before the node is touched: its package cache stays empty (R2-H1)", async () => {
    const dir = tempDir('hostile-bundle');
    const home = join(dir, 'home');
    mkdirSync(join(home, '.ssh'), { recursive: true });
    writeFileSync(join(home, '.ssh', 'id_ed25519'), 'FAKE-OPERATOR-KEY\n', { mode: 0o600 });
    const inventory = writeLabInventory(lab, {}, dir);
    const manifest = {
      format: 'kubestrap.dev/bundle/v1',
      kubernetesVersion: 'v1.23.17',
      platforms: ['linux/amd64'],
      packageFamilies: ['deb'],
      images: [],
      packages: [{ family: 'deb', architecture: 'amd64', name: 'kubelet', version: '1.23.17-1.1', path: '../../../../.ssh/id_ed25519' }],
      entries: [],
    };
    const bundle = join(dir, 'hostile.bundle');
    writeTar(bundle, [{ path: 'bundle.json', content: Buffer.from(JSON.stringify(manifest)) }]);
    const r = await runCli(['apply', '-i', inventory, '--bundle', bundle, '--only', 'kube-packages', '--output', 'plain'], {
      HOME: home,
      KUBESTRAP_HOME: join(home, '.kubestrap'),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/packages\[0\]\.path: "\.\.\/\.\.\/\.\.\/\.\.\/\.ssh\/id_ed25519" is not packages\/<deb\|rpm>/);
    expect(r.stdout + r.stderr).not.toContain('FAKE-OPERATOR-KEY');
    expect(lab.inside(lab.hosts[0]!, 'ls -A /var/cache/kubestrap 2>/dev/null; echo end').trim()).toBe('end');
  });

  it('uploads the package files, installs and holds them, and removes the uploads; a second run changes nothing', async () => {
    const offlineDir = join(ensurePackageRepo(), 'kubernetes', 'core:', 'stable:', 'v1.23', 'deb');
    const dir = tempDir('offline');
    const inventory = writeLabInventory(lab, { cluster: { packages: { source: 'offline', offlineDir } } }, dir);
    /** One kube-packages run: its exit code and output, and the summaries of what it changed on the host. */
    const applyPackages = async (run: number) => {
      const report = join(dir, `${run}.json`);
      const result = await runCli(['apply', '-i', inventory, '--only', 'kube-packages', '--output', 'silent', '--report', report]);
      return { result, changes: result.code === 0 ? readReport(report).hosts[0]!.changes.map((c) => c.summary) : [] };
    };
    const first = await applyPackages(1);
    expect(first.result.code, first.result.stdout).toBe(0);
    const host = lab.hosts[0]!;
    // the uploads were installed and removed: nothing of them stays on the node
    expect(first.changes).toContain(
      'install kubelet 1.23.17, kubectl 1.23.17, cri-tools (any) from 3 uploaded file(s): cri-tools_1.26.0-1.1_amd64.deb, kubectl_1.23.17-1.1_amd64.deb, kubelet_1.23.17-1.1_amd64.deb',
    );
    expect(lab.inside(host, 'test -e /var/cache/kubestrap/packages && echo kept || echo removed').trim()).toBe('removed');
    expect(lab.inside(host, 'kubelet --version').trim()).toBe(`Kubernetes v${FAKE_KUBE_VERSION}`);
    expect(lab.inside(host, 'apt-mark showhold').trim().split('\n').sort()).toEqual(['cri-tools', 'kubectl', 'kubelet']);
    const second = await applyPackages(2);
    expect(second.result.code).toBe(0);
    expect(second.changes).toEqual([]);
  });
});
