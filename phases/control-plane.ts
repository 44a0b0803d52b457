/**
 * control-plane: everything the first control-plane node needs on disk before its kubelet can
 * run the control plane: the PKI and kubeconfigs (kept when present and valid, generated when
 * missing), the four static-pod manifests, the kubelet's config.yaml, kubeadm-flags.env and its
 * systemd drop-in. Existing material is read back from the node, so a second apply changes
 * nothing and a re-run after a partial failure completes only what is missing.
 */
import { controlPlaneInput, kubeletFiles, manifestFiles, readNodeState } from '../src/kube/node-files.js';
import { onLeader } from '../src/kit/hosts.js';
import { buildClusterPki } from '../src/pki/cluster-pki.js';
import { clusterPki, nodePki } from '../src/pki/from-inventory.js';
import { applyFiles, planFiles, type DesiredFile, type FilePayload } from '../src/kit/managed-files.js';
import type { Phase } from '../src/kit/phase.js';
import { controlPlanePods } from '../templates/control-plane.js';
import { KUBERNETES_DIR } from '../templates/paths.js';

export const controlPlanePhase: Phase<FilePayload> = {
  name: 'control-plane',
  title: 'PKI, kubeconfigs, static-pod manifests and kubelet files on the first control plane',
  description:
    'Generates (or keeps) the PKI and kubeconfigs, writes the etcd (unless etcd is external), kube-apiserver, kube-controller-manager and kube-scheduler manifests and the kubelet configuration.',
  selectHosts: onLeader,
  async plan(ctx, target) {
    const { files, caDirs } = await readNodeState(target);
    const node = { node: nodePki(target.spec), controlPlane: true };
    const pki = await buildClusterPki(clusterPki(ctx.inventory), [node], new Map([[node.node.nodeName, files]]));
    const mismatches = pki.findings.filter((f) => f.status === 'mismatch');
    if (mismatches.length) {
      throw new Error(
        `existing certificates do not match the inventory (kubestrap leaves them alone; renew them with kubestrap certs renew): ${mismatches.map((m) => `${m.file}: ${m.problems.join('; ')}`).join(' | ')}`,
      );
    }
    const pods = controlPlanePods(controlPlaneInput(ctx.inventory, target.spec, caDirs));
    const desired: DesiredFile[] = [
      ...(pki.writes.get(node.node.nodeName) ?? []).map((f) => ({
        path: `${KUBERNETES_DIR}/${f.path}`,
        content: f.content,
        mode: f.mode,
        secret: f.mode === 0o600,
      })),
      ...manifestFiles(pods),
      ...kubeletFiles(ctx.inventory, target.spec, target.facts.hostname),
    ];
    return { changes: await planFiles(target.host, desired) };
  },
  async apply(ctx, target, changes) {
    // etcd's data directory must exist with 0700 before etcd starts (kubeadm creates it so)
    if (!ctx.inventory.cluster.etcd.external) await target.host.check('install -d -m 0700 /var/lib/etcd');
    await applyFiles(target.host, changes);
  },
};
