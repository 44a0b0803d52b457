/**
 * containerd and the Kubernetes packages installed on lab hosts from a mirror: real Debian
 * containerd and runc packages, FAKE kubelet/kubectl/cri-tools packages (stub binaries; Debian
 * ships no kubelet). Also: one host with a broken package source fails alone, and a re-run
 * after the fix completes only that host.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { PREPARE_ONLY, runCli, tempDir, writeLabInventory } from './helpers.js';
import { type Lab } from './lab.js';
import { FAKE_KUBE_VERSION, startMirroredLab, type ServedRepo } from './package-repo.js';
import { readReport } from './report.js';

const MIRROR_REGISTRY = 'registry.cn-hangzhou.aliyuncs.com/google_containers';
let lab: Lab;
let repo: ServedRepo;
let inventory: string;
let dir: string;

beforeAll(async () => {
  const mirrored = await startMirroredLab({ hosts: 3, prefix: 'pkg' });
  ({ lab, repo } = mirrored);
  dir = tempDir('pkg');
  inventory = writeLabInventory(
    lab,
    {
      cluster: {
        imageRepository: MIRROR_REGISTRY,
        packages: { source: 'mirror', mirror: `${repo.url}/kubernetes`, unsigned: true },
        containerRuntime: { restrictOOMScoreAdj: true, registryMirrors: { 'docker.io': ['https://mirror.example.com'] } },
      },
    },
    dir,
  );
  return () => mirrored.stop();
}, 300_000);

const report = (file: string) => readReport(join(dir, file));

describe('container runtime and Kubernetes packages (FAKE kubelet/kubectl/cri-tools packages)', () => {
  it('a broken package source fails that host only; the others are fully prepared', async () => {
    const broken = lab.hosts[2]!;
    lab.inside(broken, `echo 'deb [trusted=yes] http://${lab.gateway}:1/nowhere ./' > /etc/apt/sources.list.d/broken.list`);
    const r = await runCli(['apply', '-i', inventory, ...PREPARE_ONLY, '--output', 'plain', '--report', join(dir, '1.json')]);
    expect(r.code).toBe(1);
    const first = report('1.json');
    const failed = first.hosts.find((h) => h.name === broken.name)!;
    expect(failed).toMatchObject({ status: 'failed', failedPhase: 'container-runtime' });
    // the error leads with apt's cause, names the command, and shows the source that failed
    expect(failed.error).toMatch(
      new RegExp(`^${broken.name}: E: Unable to locate package containerd \\(exit code 100 of: .*apt-get -o DPkg::Lock::Timeout=60 update`),
    );
    expect(failed.error).toContain(`http://${lab.gateway}:1/nowhere`);
    expect(r.stdout).toMatch(new RegExp(`${broken.name}\\s+failed.*container-runtime`));
    for (const host of lab.hosts.slice(0, 2)) {
      expect(first.hosts.find((h) => h.name === host.name)!.status).toBe('ok');
      expect(lab.inside(host, 'containerd --version')).toMatch(/containerd .*1\.6\./);
      expect(lab.inside(host, 'kubelet --version').trim()).toBe(`Kubernetes v${FAKE_KUBE_VERSION}`);
      expect(lab.inside(host, 'apt-mark showhold').trim().split('\n').sort()).toEqual(['cri-tools', 'kubectl', 'kubelet']);
    }
  });

  it('writes containerd config with the systemd cgroup driver and the sandbox image from the mirror', () => {
    const host = lab.hosts[0]!;
    const config = lab.inside(host, 'cat /etc/containerd/config.toml');
    expect(config).toContain(`sandbox_image = "${MIRROR_REGISTRY}/pause:3.6"`);
    expect(config).toContain('SystemdCgroup = true');
    expect(config).toContain('config_path = "/etc/containerd/certs.d"');
    expect(lab.inside(host, 'cat /etc/containerd/certs.d/docker.io/hosts.toml')).toContain('[host."https://mirror.example.com"]');
    expect(lab.inside(host, 'cat /etc/crictl.yaml')).toContain('runtime-endpoint: unix:///run/containerd/containerd.sock');
    expect(lab.inside(host, 'cat /etc/apt/sources.list.d/kubernetes.list')).toContain(
      `deb [trusted=yes] ${repo.url}/kubernetes/core:/stable:/v1.23/deb/ /`,
    );
    // containerd accepts the file (its own parser, not ours)
    expect(
      lab.inside(host, 'containerd --config /etc/containerd/config.toml config dump 2>&1 | grep -E "sandbox_image|SystemdCgroup"'),
    ).toMatch(/sandbox_image = "registry\.cn-hangzhou/);
  });

  it('reports the missing init system instead of pretending to start containerd', () => {
    const r = report('1.json').hosts[0]!;
    expect(r.warnings).toEqual(
      expect.arrayContaining([{ phase: 'container-runtime', message: expect.stringMatching(/^no init system kubestrap can drive/) }]),
    );
  });

  it('after fixing the source, a re-run completes only the broken host; then nothing changes anywhere', async () => {
    const broken = lab.hosts[2]!;
    lab.inside(broken, 'rm /etc/apt/sources.list.d/broken.list');
    const r = await runCli(['apply', '-i', inventory, ...PREPARE_ONLY, '--output', 'plain', '--report', join(dir, '2.json')]);
    expect(r.code, r.stdout).toBe(0);
    for (const h of report('2.json').hosts) {
      if (h.name === broken.name)
        expect(h.changes.map((c) => c.phase)).toEqual(expect.arrayContaining(['container-runtime', 'kube-packages']));
      else expect(h.changes).toEqual([]);
    }
    expect(lab.inside(broken, 'kubelet --version').trim()).toBe(`Kubernetes v${FAKE_KUBE_VERSION}`);
    const again = await runCli(['apply', '-i', inventory, ...PREPARE_ONLY, '--output', 'plain', '--report', join(dir, '3.json')]);
    expect(again.code).toBe(0);
    expect(report('3.json').hosts.map((h) => h.changes.length)).toEqual([0, 0, 0]);
  });
});
