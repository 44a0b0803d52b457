/** The stuck-control-plane diagnosis names the cause from the evidence a node gives. */
import { describe, expect, test } from 'vitest';
import { diagnose, parseEvidence } from '../../src/kube/diagnose.js';

const NOW = 1_800_000_000;

function evidence(parts: Record<string, string[]>): Map<string, string[]> {
  const text = Object.entries({ 'kubelet-active': ['active'], clock: [String(NOW)], ...parts })
    .map(([k, lines]) => `== ${k}\n${lines.join('\n')}`)
    .join('\n');
  return parseEvidence(text);
}

const causes = (parts: Record<string, string[]>) =>
  diagnose({ evidence: evidence(parts), imageRepository: 'registry.local', workstationTime: NOW }).map((f) => f.cause);

describe('diagnose', () => {
  test('a sandbox image outside the image repository is named, with both values', () => {
    const found = causes({
      'containerd-config': ['  sandbox_image = "registry.k8s.io/pause:3.2"', '  SystemdCgroup = false'],
      'kubelet-config': ['cgroupDriver: cgroupfs'],
    });
    expect(found.join('\n')).toMatch(
      /sandbox image registry\.k8s\.io\/pause:3\.2 is not from the cluster's image repository registry\.local/,
    );
  });

  test("containerd 2's version-3 pinned sandbox outside the image repository is named too", () => {
    const found = causes({
      'containerd-config': ["  sandbox = 'registry.k8s.io/pause:3.10.1'", '        SystemdCgroup = true'],
      'kubelet-config': ['cgroupDriver: systemd'],
    });
    expect(found.join('\n')).toMatch(
      /sandbox image registry\.k8s\.io\/pause:3\.10\.1 is not from the cluster's image repository registry\.local/,
    );
  });

  test('a containerd configuration written after containerd started is named; one written before it is not', () => {
    expect(causes({ 'containerd-times': ['started 1000', 'mtime 1005'] }).join('\n')).toMatch(
      /containerd runs an older configuration: \/etc\/containerd\/config\.toml changed after containerd started/,
    );
    expect(causes({ 'containerd-times': ['started 1000', 'mtime 990'] }).join('\n')).not.toMatch(/older configuration/);
    expect(causes({ 'containerd-times': ['mtime 990'] }).join('\n')).not.toMatch(/older configuration/);
  });

  test('pull errors for the pause image in the kubelet journal', () => {
    const found = causes({
      'kubelet-journal': [
        'E1122 08:00:00.1 1 remote_runtime.go:116] RunPodSandbox failed: failed to pull image "registry.local/pause:9.9": not found',
      ],
    });
    expect(found).toContain('pod sandboxes cannot be created: the pause image cannot be pulled');
  });

  test('kubelet systemd vs containerd cgroupfs is a cgroup driver mismatch', () => {
    const found = causes({ 'containerd-config': ['SystemdCgroup = false'], 'kubelet-config': ['cgroupDriver: systemd'] });
    expect(found.join('\n')).toMatch(/cgroup driver mismatch: the kubelet uses systemd, containerd uses cgroupfs/);
  });

  test('matching drivers and a repository sandbox image give no such findings', () => {
    const found = causes({
      'containerd-config': ['sandbox_image = "registry.local/pause:3.2"', 'SystemdCgroup = true'],
      'kubelet-config': ['cgroupDriver: systemd'],
    });
    expect(found.join('\n')).not.toMatch(/mismatch|sandbox image/);
  });

  test('swap on, a foreign listener on 6443, a stopped kubelet, SAN mismatch and clock skew', () => {
    const found = diagnose({
      evidence: evidence({
        'kubelet-active': ['inactive'],
        swap: ['/swapfile file 1048572 0 -2'],
        ports: ['LISTEN 0 511 0.0.0.0:6443 0.0.0.0:* users:(("nginx",pid=1,fd=6))'],
        'kubelet-journal': ['E1122 x509: certificate is valid for 10.0.0.1, not 10.0.0.2'],
        clock: [String(NOW + 3600)],
      }),
      imageRepository: 'registry.local',
      workstationTime: NOW,
    })
      .map((f) => f.cause)
      .join('\n');
    expect(found).toMatch(/kubelet is not running/);
    expect(found).toMatch(/swap is on/);
    expect(found).toMatch(/port is taken by another program/);
    expect(found).toMatch(/SAN mismatch/);
    expect(found).toMatch(/clock is 3600 s from the workstation's/);
  });
});
