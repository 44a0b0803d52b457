/**
 * Prints the time to generate the PKI of one control plane, written to disk with kubeadm's
 * modes: the certificate set (3 CAs, 7 leaves, sa key pair: 11 RSA-2048 keys) and the full set
 * with the 5 kubeconfigs (16 keys). 7 in-process runs each; figures, not a test.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseInventory } from '../src/inventory/load.js';
import { buildClusterPki } from '../src/pki/cluster-pki.js';
import { clusterPki, pkiNodes } from '../src/pki/from-inventory.js';
import { writeNodeFiles } from '../src/pki/local-store.js';

const RUNS = 7;
const inventory = `apiVersion: kubestrap.dev/v1alpha1
kind: Cluster
hosts:
  - {name: cp-1, address: 192.168.56.10, roles: [control-plane]}
cluster:
  kubernetesVersion: v1.30.4
`;
const { inventory: inv } = await parseInventory(inventory, 'bench.yaml');
// the same cluster at 1.20.2, whose kubeconfig set (no super-admin.conf) is the one kubeadm 1.20.2 writes
const { inventory: inv120 } = await parseInventory(inventory.replace('v1.30.4', 'v1.20.2'), 'bench-1.20.yaml');
async function measure(label: string, withoutKubeconfigs: boolean, cluster = inv): Promise<void> {
  const times: number[] = [];
  let files = 0;
  for (let i = 0; i < RUNS; i++) {
    const out = mkdtempSync(join(tmpdir(), 'kubestrap-bench-pki-'));
    const started = process.hrtime.bigint();
    const result = await buildClusterPki(clusterPki(cluster), pkiNodes(cluster), new Map(), { withoutKubeconfigs });
    for (const [node, written] of result.writes) writeNodeFiles(out, node, written);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    files = [...result.writes.values()].reduce((n, w) => n + w.length, 0);
    rmSync(out, { recursive: true });
  }
  const sorted = [...times].sort((a, b) => a - b);
  console.log(`${label} (${files} files, RSA-2048), ${RUNS} runs: ${times.map((t) => t.toFixed(0)).join(', ')} ms`);
  console.log(
    `  median ${sorted[Math.floor(RUNS / 2)]!.toFixed(0)} ms, min ${sorted[0]!.toFixed(0)} ms, max ${sorted[RUNS - 1]!.toFixed(0)} ms`,
  );
}

await measure('certificates and sa keys, the scope of `kubeadm init phase certs all`', true);
await measure('full PKI with the 5 kubeconfigs (admin, super-admin, kubelet, controller-manager, scheduler)', false);
await measure('full PKI for v1.20.2, 4 kubeconfigs (what kubeadm 1.20.2 certs all + kubeconfig all write)', false, inv120);

// The same work by the reference kubeadm (1.20.2, from test/e2e/build-kubernetes.sh), when built.
const kubeadm = join(process.env.KUBESTRAP_LAB_CACHE ?? '/var/cache/kubestrap-lab', 'kubernetes-1.20.2', 'bin', 'kubeadm');
if (existsSync(kubeadm)) {
  const certs: number[] = [];
  const full: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'kubestrap-bench-kubeadm-'));
    writeFileSync(
      join(dir, 'kubeadm.yaml'),
      `apiVersion: kubeadm.k8s.io/v1beta2\nkind: InitConfiguration\nlocalAPIEndpoint: {advertiseAddress: 192.168.56.10, bindPort: 6443}\nnodeRegistration: {name: cp-1}\n---\napiVersion: kubeadm.k8s.io/v1beta2\nkind: ClusterConfiguration\nkubernetesVersion: v1.20.2\ncertificatesDir: ${dir}/pki\n`,
    );
    const started = process.hrtime.bigint();
    execFileSync(kubeadm, ['init', 'phase', 'certs', 'all', '--config', join(dir, 'kubeadm.yaml')], { stdio: 'ignore' });
    certs.push(Number(process.hrtime.bigint() - started) / 1e6);
    execFileSync(kubeadm, ['init', 'phase', 'kubeconfig', 'all', '--config', join(dir, 'kubeadm.yaml'), '--kubeconfig-dir', dir], {
      stdio: 'ignore',
    });
    full.push(Number(process.hrtime.bigint() - started) / 1e6);
    rmSync(dir, { recursive: true });
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(0);
  console.log(
    `kubeadm 1.20.2 on this machine, ${RUNS} runs: certs all median ${median(certs)} ms; certs all + kubeconfig all (4 kubeconfigs) median ${median(full)} ms`,
  );
}
