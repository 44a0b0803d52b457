/**
 * kubestrap's host preparation on the e2e lab's nodes, which behave like real machines for it
 * (systemd, apt, containerd as a unit): the real kubelet/kubectl 1.20.2 packages from the lab's
 * mirror, containerd configured for the inventory's image mirror and cgroup driver, and a
 * second apply that changes nothing.
 */
import { beforeAll, expect, test } from 'vitest';
import { runCli } from '../lab/helpers.js';
import { type ClusterLab } from './cluster-lab.js';
import { startWithInventory } from './inventory.js';

let cluster: ClusterLab;
let inventory: string;

beforeAll(async () => {
  ({ cluster, inventory } = await startWithInventory('e2e-prep', { workers: 2 }));
  return () => cluster.stop();
});

test("kubestrap apply prepares the real nodes (kubelet 1.20.2 from the mirror; containerd with registry.local's pause, cgroupfs) and a second apply changes nothing", async () => {
  const first = await runCli(['apply', '-i', inventory, '--only', 'hostname,sysctl,hosts-file,limits,container-runtime,kube-packages']);
  expect(first.code, first.stdout + first.stderr).toBe(0);
  expect(first.stdout).toMatch(/install kubelet 1\.20\.2, kubectl 1\.20\.2/);
  for (const node of cluster.nodes) {
    const state = await cluster.lab.run(
      node,
      "dpkg-query -W -f '${Package} ${Version}\\n' kubelet kubectl; kubelet --version; systemctl is-active containerd; grep -E 'sandbox_image|SystemdCgroup|restrict_oom' /etc/containerd/config.toml; ctr plugins ls | grep -c 'cri .* ok'; apt-mark showhold",
    );
    expect(state, node.name).toContain('kubelet 1.20.2-1.1');
    expect(state, node.name).toContain('kubectl 1.20.2-1.1');
    expect(state, node.name).toContain('Kubernetes v1.20.2');
    expect(state, node.name).toMatch(/^active$/m);
    expect(state, node.name).toContain('sandbox_image = "registry.local/pause:3.2"');
    expect(state, node.name).toContain('SystemdCgroup = false');
    expect(state, node.name).toContain('restrict_oom_score_adj = true');
    expect(state, node.name).toMatch(/^1$/m);
    expect(state, node.name).toMatch(/^kubelet$/m);
  }
  const second = await runCli(['apply', '-i', inventory, '--only', 'hostname,sysctl,hosts-file,limits,container-runtime,kube-packages']);
  expect(second.code, second.stdout + second.stderr).toBe(0);
  expect(second.stdout).toContain('Applied: no changes were needed.');
});
