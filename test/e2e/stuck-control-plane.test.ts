/**
 * A control plane broken on purpose does not just time out: kubestrap names the cause. First
 * containerd's sandbox image ignores the mirror (the classic firewall failure), then containerd
 * and the kubelet disagree on the cgroup driver.
 */
import { beforeAll, expect, test } from 'vitest';
import { runCli, tempDir } from '../lab/helpers.js';
import { type ClusterLab } from './cluster-lab.js';
import { startWithInventory } from './inventory.js';

let cluster: ClusterLab;
let inventory: string;
const PREPARATION = 'hostname,sysctl,hosts-file,limits,container-runtime,kube-packages';
const env = { KUBESTRAP_HOME: tempDir('e2e-stuck-home'), KUBESTRAP_CONTROL_PLANE_TIMEOUT_MS: '45000' };

beforeAll(async () => {
  ({ cluster, inventory } = await startWithInventory('e2e-stuck', { workers: 0 }));
  const prepared = await runCli(['apply', '-i', inventory, '--only', PREPARATION], env);
  expect(prepared.code, prepared.stdout + prepared.stderr).toBe(0);
  return () => cluster.stop();
});

/** Edits containerd's configuration on the node behind kubestrap's back and restarts it. */
async function breakContainerd(sedExpression: string): Promise<void> {
  await cluster.lab.run(cluster.controlPlane, `sed -i '${sedExpression}' /etc/containerd/config.toml && systemctl restart containerd`);
}

test("containerd's sandbox image outside the mirror: the failure names it", async () => {
  await breakContainerd('s|sandbox_image = .*|sandbox_image = "registry.k8s.io/pause:3.2"|');
  const result = await runCli(['apply', '-i', inventory, '--skip', 'container-runtime'], env);
  expect(result.code).toBe(1);
  expect(result.stdout).toMatch(/the control plane did not come up in 45 s/);
  expect(result.stdout).toMatch(
    /containerd's sandbox image registry\.k8s\.io\/pause:3\.2 is not from the cluster's image repository registry\.local/,
  );
  expect(result.stdout).not.toMatch(/cgroup driver mismatch/);
});

test('containerd on the systemd cgroup driver, the kubelet on cgroupfs: the failure names the mismatch', async () => {
  // put kubestrap's containerd configuration back, then break the driver only
  const fixed = await runCli(['apply', '-i', inventory, '--only', 'container-runtime'], env);
  expect(fixed.code, fixed.stdout).toBe(0);
  await breakContainerd('s|SystemdCgroup = false|SystemdCgroup = true|');
  await cluster.lab.run(cluster.controlPlane, 'systemctl restart kubelet');
  const result = await runCli(['apply', '-i', inventory, '--skip', 'container-runtime'], env);
  expect(result.code).toBe(1);
  expect(result.stdout).toMatch(/cgroup driver mismatch: the kubelet uses cgroupfs, containerd uses systemd \(SystemdCgroup = true\)/);
  expect(result.stdout).not.toMatch(/is not from the cluster's image repository/);
});
