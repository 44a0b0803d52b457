/**
 * containerd 2.x on a lab host: Debian unstable's real containerd 2 package, installed from the
 * lab's mirror by the container-runtime phase, gets a version-3 configuration that containerd
 * itself accepts (its `config dump`, and the daemon started on it), with the systemd cgroup
 * driver and the sandbox image pinned from the inventory's image repository. A second apply
 * changes nothing. (containerd 1.6 hosts keep version 2: packages.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir, writeLabInventory } from './helpers.js';
import { type Lab } from './lab.js';
import { startMirroredLab } from './package-repo.js';
import { pollUntil } from '../../src/util/poll.js';

const MIRROR_REGISTRY = 'registry.cn-hangzhou.aliyuncs.com/google_containers';
let lab: Lab;
let inventory: string;
let dir: string;

beforeAll(async () => {
  // systemd inside, so the phase starts containerd's own unit; its snapshots cannot live on the
  // host's overlay root; bookworm's runc beside unstable's containerd 2
  const mirrored = await startMirroredLab({ hosts: 1, prefix: 'ctr2', kind: 'systemd', diskPaths: ['/var/lib/containerd'] }, true);
  lab = mirrored.lab;
  dir = tempDir('ctr2');
  inventory = writeLabInventory(
    lab,
    { cluster: { kubernetesVersion: 'v1.34.8', imageRepository: MIRROR_REGISTRY, containerRuntime: { restrictOOMScoreAdj: true } } },
    dir,
  );
  return () => mirrored.stop();
}, 300_000);

describe('containerd 2.x (Debian unstable package)', () => {
  it('is installed and configured with config version 3, which containerd accepts: SystemdCgroup and the pinned sandbox image from the mirror', async () => {
    const host = lab.hosts[0]!;
    const r = await runCli(['apply', '-i', inventory, '--only', 'container-runtime', '--output', 'plain']);
    expect(r.code, r.stdout).toBe(0);
    expect(lab.inside(host, 'containerd --version')).toMatch(/containerd \S+ v?2\.\d+\.\d+/);
    const config = lab.inside(host, 'cat /etc/containerd/config.toml');
    expect(config).toMatch(/^version = 3$/m);
    expect(config).not.toContain('sandbox_image');

    // containerd's own parser, not ours: the merged configuration it would run with
    const dump = lab.inside(host, 'containerd --config /etc/containerd/config.toml config dump');
    expect(dump).toMatch(/^version = 3$/m);
    expect(dump).toMatch(
      new RegExp(
        `\\[plugins\\.'io\\.containerd\\.cri\\.v1\\.images'\\.pinned_images\\]\\s+sandbox = '${MIRROR_REGISTRY.replaceAll('.', '\\.')}/pause:3\\.10\\.1'`,
      ),
    );
    expect(dump).toMatch(/\[plugins\.'io\.containerd\.cri\.v1\.runtime'\.containerd\.runtimes\.runc\.options\][^[]*SystemdCgroup = true/);
    expect(dump).toMatch(/config_path = '\/etc\/containerd\/certs\.d'/);
    expect(dump).toMatch(/restrict_oom_score_adj = true/);

    // and the service the phase enabled runs on it, its CRI plugins loaded
    const version = await pollUntil(
      async () => lab.inside(host, 'ctr version 2>/dev/null || true').match(/Server:\s+Version:\s+(\S+)/)?.[1],
      {
        timeoutMs: 30_000,
        intervalMs: 500,
        failure: () => `containerd did not answer: ${lab.inside(host, 'journalctl -u containerd --no-pager | tail -20')}`,
      },
    );
    expect(version).toMatch(/^v?2\./);
    expect(lab.inside(host, 'systemctl is-active containerd').trim()).toBe('active');
    const plugins = lab.inside(host, 'ctr plugins ls');
    expect(plugins).toMatch(/io\.containerd\.cri\.v1\s+images\s+.*\bok\b/);
    expect(plugins).toMatch(/io\.containerd\.cri\.v1\s+runtime\s+.*\bok\b/);
  });

  it('a second apply changes nothing', async () => {
    const again = await runCli([
      'apply',
      '-i',
      inventory,
      '--only',
      'container-runtime',
      '--output',
      'plain',
      '--report',
      join(dir, '2.json'),
    ]);
    expect(again.code, again.stdout).toBe(0);
    const { hosts } = JSON.parse(readFileSync(join(dir, '2.json'), 'utf8')) as { hosts: Array<{ changes: unknown[] }> };
    expect(hosts.map((h) => h.changes)).toEqual([[]]);
  });
});
