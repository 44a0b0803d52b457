/**
 * Prints the time to generate the PKI of one control plane, written to disk with kubeadm's
 * modes: the certificate set (3 CAs, 7 leaves, sa key pair: 11 RSA-2048 keys) and the full set
 * with the 5 kubeconfigs (16 keys). 7 in-process runs each; figures, not a test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
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
async function measure(label: string, withoutKubeconfigs: boolean): Promise<void> {
  const times: number[] = [];
  let files = 0;
  for (let i = 0; i < RUNS; i++) {
    const out = mkdtempSync(join(tmpdir(), 'kubestrap-bench-pki-'));
    const started = process.hrtime.bigint();
    const result = await buildClusterPki(clusterPki(inv), pkiNodes(inv), new Map(), { withoutKubeconfigs });
    for (const [node, written] of result.writes) writeNodeFiles(out, node, written);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    files = [...result.writes.values()].reduce((n, w) => n + w.length, 0);
    rmSync(out, { recursive: true });
  }
  const sorted = [...times].sort((a, b) => a - b);
  console.log(`${label} (${files} files, RSA-2048), ${RUNS} runs: ${times.map((t) => `${t.toFixed(0)}`).join(', ')} ms`);
  console.log(`  median ${sorted[Math.floor(RUNS / 2)]!.toFixed(0)} ms, min ${sorted[0]!.toFixed(0)} ms, max ${sorted[RUNS - 1]!.toFixed(0)} ms`);
}

await measure('certificates and sa keys, the scope of `kubeadm init phase certs all`', true);
await measure('full PKI with the 5 kubeconfigs (admin, super-admin, kubelet, controller-manager, scheduler)', false);
