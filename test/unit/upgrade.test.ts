/**
 * The upgrade rules (one minor at a time, never back, kubelet skew), the version table, the
 * reading of running command lines from /proc output, and the rolling queue's stop at the first
 * failure. The rolling itself runs on real nodes in test/e2e/ha.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { parseInventory } from '../../src/inventory/load.js';
import { renderCluster } from '../../src/render/render.js';
import { parseRunning, runsCommand, kubeletRunsWith } from '../../src/kube/running.js';
import { decideUpgrade, oldest, type ClusterVersions } from '../../src/upgrade/version-policy.js';
import { rollingQueue } from '../../src/util/concurrency.js';
import { parseVersion } from '../../src/util/version.js';
import { controlPlanePods } from '../../templates/control-plane.js';
import { tempDir } from '../lab/helpers.js';
import { kubeadmDefaultControlPlane, NO_EXTRAS } from './control-plane-input.js';

const v = (text: string) => parseVersion(text)!;
const cluster = (controlPlane: string, kubelets: Record<string, string> = {}): ClusterVersions => ({
  controlPlane: v(controlPlane),
  kubelets: new Map(Object.entries(kubelets).map(([n, k]) => [n, v(k)])),
});

describe('upgrade rules', () => {
  it('same version is a configuration roll, a newer patch a patch upgrade, the next minor a minor upgrade', () => {
    expect(decideUpgrade(cluster('v1.20.2', { a: 'v1.20.2' }), v('v1.20.2'))).toEqual({ ok: true, kind: 'configuration' });
    expect(decideUpgrade(cluster('v1.20.2', { a: 'v1.20.2' }), v('v1.20.15'))).toEqual({ ok: true, kind: 'patch' });
    expect(decideUpgrade(cluster('v1.20.15', { a: 'v1.20.15' }), v('v1.21.14'))).toEqual({ ok: true, kind: 'minor' });
  });

  it('refuses skipping a minor, and names the release to go through', () => {
    const d = decideUpgrade(cluster('v1.20.2'), v('v1.22.0'));
    expect(d.ok).toBe(false);
    expect(!d.ok && d.problems).toEqual([expect.stringContaining('v1.20.2 → v1.22.0 skips v1.21: upgrade to the newest v1.21.x first')]);
  });

  it('refuses a downgrade, a major change and an unsupported release', () => {
    expect(decideUpgrade(cluster('v1.21.3'), v('v1.21.2'))).toMatchObject({
      ok: false,
      problems: [expect.stringContaining('would be a downgrade')],
    });
    expect(decideUpgrade(cluster('v1.21.3'), v('v1.20.9'))).toMatchObject({
      ok: false,
      problems: [expect.stringContaining('would be a downgrade')],
    });
    expect(decideUpgrade(cluster('v1.37.1'), v('v1.38.0'))).toMatchObject({
      ok: false,
      problems: [expect.stringContaining('kubestrap supports v1.20.0 to v1.37.x')],
    });
    expect(decideUpgrade(cluster('v1.33.1'), v('v2.0.0'))).toMatchObject({
      ok: false,
      problems: expect.arrayContaining([expect.stringContaining('changes the major version')]),
    });
  });

  it('refuses kubelets the target API server would not serve: newer, or too far behind (2 minors before 1.28, 3 from 1.28)', () => {
    expect(decideUpgrade(cluster('v1.22.0', { old: 'v1.20.2', ok: 'v1.21.0' }), v('v1.23.0'))).toMatchObject({
      ok: false,
      problems: [expect.stringMatching(/^node old's kubelet is v1.20.2: more than 2 minors behind v1.23.0/)],
    });
    expect(decideUpgrade(cluster('v1.27.0', { old: 'v1.25.3' }), v('v1.28.0'))).toEqual({ ok: true, kind: 'minor' });
    expect(decideUpgrade(cluster('v1.27.0', { old: 'v1.24.3' }), v('v1.28.0'))).toMatchObject({
      ok: false,
      problems: [expect.stringContaining('more than 3 minors behind')],
    });
    expect(decideUpgrade(cluster('v1.21.0', { ahead: 'v1.22.0' }), v('v1.21.5'))).toMatchObject({
      ok: false,
      problems: [expect.stringContaining('newer than v1.21.5')],
    });
  });

  it('a half-done upgrade counts as the old version: the oldest reported version, suffixes ignored', () => {
    expect(oldest(['v1.21.1', 'v1.20.2-rc.0', undefined, 'garbage'])!.text).toBe('v1.20.2');
    expect(oldest([undefined, ''])).toBeUndefined();
  });
});

describe('running command lines', () => {
  const pods = controlPlanePods(kubeadmDefaultControlPlane({ apiServer: { ...NO_EXTRAS, extraArgs: { profiling: 'false' } } }));
  const command = pods['kube-apiserver'].spec.containers[0]!.command!;
  const proc = (pid: number, argv: readonly string[]) => `\x1e${pid}\n${argv.join('\n')}\n`;

  it('parses /proc records (15-character comm, absolute argv[0], empty arguments kept)', () => {
    const out =
      proc(10, command) +
      proc(11, ['/usr/local/bin/kube-controller-manager', '--v=2', '']) +
      proc(12, ['/usr/bin/kubelet', '--node-ip=10.0.0.1']);
    const running = parseRunning(out);
    expect(running.map((p) => [p.pid, p.component])).toEqual([
      [10, 'kube-apiserver'],
      [11, 'kube-controller-manager'],
      [12, 'kubelet'],
    ]);
    expect(running[1]!.argv).toEqual(['/usr/local/bin/kube-controller-manager', '--v=2', '']);
  });

  it('a component is rolled only when every process of it runs the new command', () => {
    const old = command.filter((a) => a !== '--profiling=false');
    expect(runsCommand(parseRunning(proc(10, command)), 'kube-apiserver', command)).toBe(true);
    expect(runsCommand(parseRunning(proc(9, old) + proc(10, command)), 'kube-apiserver', command)).toBe(false);
    expect(runsCommand(parseRunning(proc(9, old)), 'kube-apiserver', command)).toBe(false);
    expect(runsCommand([], 'kube-apiserver', command)).toBe(false);
  });

  it('the kubelet runs with every expected flag, once', () => {
    const running = parseRunning(proc(12, ['/usr/bin/kubelet', '--config=/var/lib/kubelet/config.yaml', '--node-ip=10.0.0.1', '--v=2']));
    expect(kubeletRunsWith(running, ['--node-ip=10.0.0.1', '--v=2'])?.pid).toBe(12);
    expect(kubeletRunsWith(running, ['--node-ip=10.0.0.1', '--v=3'])).toBeUndefined();
  });
});

describe('rolling queue', () => {
  it('runs at most N at once and starts nothing after a failure', async () => {
    const queue = rollingQueue(2);
    let inFlight = 0;
    let most = 0;
    const started: string[] = [];
    const work =
      (name: string, ms: number, fail = false) =>
      () => {
        started.push(name);
        inFlight++;
        most = Math.max(most, inFlight);
        return new Promise<string>((resolve, reject) =>
          setTimeout(() => (inFlight--, fail ? reject(new Error(`${name} broke`)) : resolve(name)), ms),
        );
      };
    const results = await Promise.allSettled([
      queue('w-1', work('w-1', 40)),
      queue('w-2', work('w-2', 5, true)),
      queue('w-3', work('w-3', 5)),
      queue('w-4', work('w-4', 5)),
    ]);
    expect(most).toBe(2);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected']);
    expect(started).toEqual(['w-1', 'w-2']);
    expect((results[3] as PromiseRejectedResult).reason.message).toBe(
      'not started: w-2 failed before, and a rolling change stops at its first failure',
    );
  });
});

describe('what an upgrade v1.20.2 → v1.21.14 renders (the lab inventory at both versions; the lab cannot run 1.21)', () => {
  const render = async (version: string) => {
    const doc = parse(readFileSync('inventories/lab-e2e.yaml', 'utf8')) as {
      cluster: { kubernetesVersion: string; etcd: { imageTag?: string } };
    };
    doc.cluster.kubernetesVersion = version;
    delete doc.cluster.etcd.imageTag;
    const files = await renderCluster(
      (await parseInventory(stringify(doc), 'lab-e2e.yaml', { checkKeyFiles: false })).inventory,
      tempDir('upgrade'),
    );
    // keys and certificates are random at every render
    return new Map(
      files
        .filter((f) => !/\/etc\/kubernetes\/(pki\/|[a-z-]+\.conf$)|cluster-info/.test(f.path))
        .map((f) => [f.path.replace(/kubelet-config-1\.2[01]/, 'kubelet-config-1.x'), f.content]),
    );
  };

  it('moves the images, the sandbox image, the recorded version and the kubelet-config name; the kubelet files stay', async () => {
    const [from, to] = await Promise.all([render('v1.20.2'), render('v1.21.14')]);
    const changed = [...to.keys()].filter((path) => from.get(path) !== to.get(path));
    const image = (path: string, files: Map<string, string>) => /image: (\S+)/.exec(files.get(path)!)?.[1];
    const cp = 'cp-1/etc/kubernetes/manifests';
    for (const c of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) {
      expect(image(`${cp}/${c}.yaml`, from)).toBe(`registry.local/${c}:v1.20.2`);
      expect(image(`${cp}/${c}.yaml`, to)).toBe(`registry.local/${c}:v1.21.14`);
    }
    expect(image(`${cp}/etcd.yaml`, from)).toBe('registry.local/etcd:3.4.13-0');
    expect(image(`${cp}/etcd.yaml`, to)).toBe('registry.local/etcd:3.4.13-0');
    expect(changed.filter((p) => p.startsWith('cp-1/etc/containerd/'))).toEqual(['cp-1/etc/containerd/config.toml']);
    expect(to.get('cp-1/etc/containerd/config.toml')).toContain('sandbox_image = "registry.local/pause:3.4.1"');
    expect(changed.filter((p) => p.startsWith('cp-1/var/lib/kubelet/'))).toEqual([]);
    const objects = changed.filter((p) => p.startsWith('cluster/'));
    expect(objects.some((p) => p.includes('configmap-kube-system-kubeadm-config'))).toBe(true);
    expect(objects.some((p) => p.includes('kubelet-config-1.x'))).toBe(true);
    expect([...to].find(([p]) => p.includes('daemonset-kube-system-kube-proxy'))![1]).toContain(
      'image: registry.local/kube-proxy:v1.21.14',
    );
    expect([...to].find(([p]) => p.includes('deployment-kube-system-coredns'))![1]).toContain('image: registry.local/coredns:v1.8.0');
  });
});
