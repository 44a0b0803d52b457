/**
 * A control plane joining a running one (kubeadm join --control-plane): with the cluster's
 * shared CA material in hand (carried over SSH by the workstation, or decrypted from
 * kubeadm-certs with the certificate key on the node), it gets its own certificates and
 * kubeconfigs, its etcd member is added to the running etcd cluster before its etcd starts,
 * its static pods and kubelet files are written and the kubelet started; then its etcd member
 * and API server are awaited and its Node is marked as a control plane. With an external etcd
 * there is no member: the node gets that etcd's client files instead, and only its API server
 * is awaited.
 */
import { EtcdClient, type EtcdCredentials, type EtcdMember } from '../etcd/client.js';
import { requireService } from '../facts/services.js';
import { API_PORT } from '../inventory/resolve.js';
import type { Inventory } from '../inventory/schema.js';
import { ApiClient } from '../kube/api-client.js';
import { buildClusterPki, type FileSet } from '../pki/cluster-pki.js';
import { clusterPki, nodePki } from '../pki/from-inventory.js';
import type { NodePki } from '../pki/catalogue.js';
import { applyFiles, planFiles, type DesiredFile } from '../kit/managed-files.js';
import type { HostTarget } from '../kit/phase.js';
import { controlPlanePods, type ControlPlaneInput, type ControlPlanePods } from '../../templates/control-plane.js';
import { approveWhenAsked, markInventoryNode, type NodeIdentity } from '../kube/node-marking.js';
import { controlPlaneInput, ETCD_MANIFEST, kubeletFiles, manifestFiles, manifestPath, readNodeState } from '../kube/node-files.js';
import { parseVersion } from '../util/version.js';
import { askLocal, localChecks } from '../kube/component-health.js';
import { pollUntil } from '../util/poll.js';
import { KUBERNETES_DIR } from '../../templates/paths.js';

const JOIN_WAIT_MS = 240_000;

export interface ControlPlaneJoinInput {
  /** The shared material, relative to /etc/kubernetes (pki/ca.crt, pki/ca.key, pki/sa.key, pki/etcd/ca.crt …). */
  readonly shared: FileSet;
  /** An etcd client on a running member, given this node's etcd client certificate and admin kubeconfig (stacked etcd only). */
  readonly openEtcd: (access: { etcd: EtcdCredentials; adminKubeconfig: string }) => Promise<EtcdClient>;
  /** With etcd.external: its CA, client certificate and key by their paths, as the first control plane has them (kubeadm's upload-certs carries them too). */
  readonly externalEtcdFiles?: ReadonlyMap<string, string>;
  /** This node's names and addresses, to approve its kubelet serving certificate (undefined: not asked). */
  readonly servingIdentity?: NodeIdentity;
}

/** True when the node already runs a control plane of its own (a re-run leaves it alone): its kubelet.conf and its etcd manifest, or its API server's with an external etcd. */
export async function controlPlaneJoined(inv: Inventory, target: HostTarget): Promise<boolean> {
  const [kubelet, manifest] = await Promise.all([
    target.host.exists(`${KUBERNETES_DIR}/kubelet.conf`),
    target.host.exists(inv.cluster.etcd.external ? manifestPath('kube-apiserver') : ETCD_MANIFEST),
  ]);
  return kubelet && manifest;
}

/** The etcd cluster a new member starts into: every member by name, the new one named after its node. */
function initialCluster(members: readonly EtcdMember[], peerUrl: string, nodeName: string): Array<{ name: string; peerUrl: string }> {
  return members.map((m) => {
    if (m.peerUrls.includes(peerUrl)) return { name: nodeName, peerUrl };
    if (!m.name)
      throw new Error(
        `etcd has a member that never started (${m.peerUrls.join(', ')}): remove it (etcdctl member remove ${m.id}) before another control plane joins`,
      );
    return { name: m.name, peerUrl: m.peerUrls[0]! };
  });
}

/**
 * The stacked member of this node: added to the running etcd cluster before its etcd starts
 * (`start` writes the files and starts the kubelet), then awaited as started.
 */
async function withNewEtcdMember(
  self: NodePki,
  input: ControlPlaneJoinInput,
  file: (path: string) => string,
  start: (pods: ControlPlanePods) => Promise<void>,
  podInput: ControlPlaneInput,
): Promise<void> {
  const host = self.advertiseAddress.includes(':') ? `[${self.advertiseAddress}]` : self.advertiseAddress;
  const peerUrl = `https://${host}:2380`;
  const etcd = await input.openEtcd({
    etcd: { ca: file('pki/etcd/ca.crt'), cert: file('pki/apiserver-etcd-client.crt'), key: file('pki/apiserver-etcd-client.key') },
    adminKubeconfig: file('admin.conf'),
  });
  try {
    let members = await etcd.members();
    if (!members.some((m) => m.peerUrls.includes(peerUrl))) members = await etcd.addMember(peerUrl);
    await start(controlPlanePods({ ...podInput, etcdInitialCluster: initialCluster(members, peerUrl, self.nodeName) }));
    await pollUntil(async () => (await etcd.members()).some((m) => m.peerUrls.includes(peerUrl) && m.name === self.nodeName), {
      timeoutMs: JOIN_WAIT_MS,
      ignoreErrors: true,
      failure: () =>
        `${self.nodeName}'s etcd member did not start within ${JOIN_WAIT_MS / 1000} s (journalctl -u kubelet; the etcd pod log under /var/log/pods)`,
    });
  } finally {
    await etcd.close();
  }
}

/**
 * The external etcd's files the node lacks, from the first control plane. A file the node has is
 * kept: with Kubespray's host etcd each node holds a client certificate of its own.
 */
async function missingExternalEtcdFiles(
  target: HostTarget,
  keyFile: string,
  files: ReadonlyMap<string, string> | undefined,
): Promise<DesiredFile[]> {
  if (!files) throw new Error("etcd is external but the first control plane's etcd files were not carried over");
  const present = await target.host.readFiles([...files.keys()]);
  return [...files]
    .filter(([path]) => !present.get(path))
    .map(([path, content]) => ({ path, content, mode: path === keyFile ? 0o600 : 0o644, secret: path === keyFile }));
}

export async function joinControlPlane(inv: Inventory, target: HostTarget, input: ControlPlaneJoinInput): Promise<void> {
  const self = nodePki(target.spec);
  const state = await readNodeState(target);
  // the shared material counts as this node's own: its CAs are kept, its leaves issued from them
  const existing = new Map([...state.files, ...input.shared]);
  const pki = await buildClusterPki(clusterPki(inv), [{ node: self, controlPlane: true }], new Map([[self.nodeName, existing]]));
  const mismatches = pki.findings.filter((f) => f.status === 'mismatch');
  if (mismatches.length)
    throw new Error(
      `existing certificates do not match the cluster: ${mismatches.map((m) => `${m.file}: ${m.problems.join('; ')}`).join(' | ')}`,
    );
  const writes = pki.writes.get(self.nodeName) ?? [];
  const file = (path: string) => writes.find((f) => f.path === path)?.content ?? existing.get(path)!;
  const sharedWrites = [...input.shared]
    .filter(([path]) => state.files.get(path) !== input.shared.get(path))
    .map(([path, content]) => ({ path, content, mode: path.endsWith('.crt') ? 0o644 : 0o600 }));

  const external = inv.cluster.etcd.external;
  const externalFiles = external ? await missingExternalEtcdFiles(target, external.keyFile, input.externalEtcdFiles) : [];
  const start = async (pods: ControlPlanePods) => {
    const desired: DesiredFile[] = [
      ...[...sharedWrites, ...writes].map((f) => ({
        path: `${KUBERNETES_DIR}/${f.path}`,
        content: f.content,
        mode: f.mode,
        secret: f.mode === 0o600,
      })),
      ...externalFiles,
      ...manifestFiles(pods),
      ...kubeletFiles(inv, target.spec, target.facts.hostname),
    ];
    if (!external) await target.host.check('install -d -m 0700 /var/lib/etcd');
    await applyFiles(target.host, await planFiles(target.host, desired));
    const kubelet = requireService(target.facts.initSystem, 'kubelet');
    await target.host.check(`${kubelet.enableNow()} && ${kubelet.restart()}`);
  };
  if (external) await start(controlPlanePods(controlPlaneInput(inv, target.spec, state.caDirs)));
  else await withNewEtcdMember(self, input, file, start, controlPlaneInput(inv, target.spec, state.caDirs));
  const api = await ApiClient.open(target.host, API_PORT, file('admin.conf'));
  try {
    await api.waitReady(
      JOIN_WAIT_MS,
      `${self.nodeName}'s API server was not ready (/readyz) within ${JOIN_WAIT_MS / 1000} s (journalctl -u kubelet; /var/log/pods/kube-system_kube-apiserver-*)`,
    );
    // from 1.34 kubeadm's join also waits for the controller-manager and the scheduler
    const checks = localChecks(parseVersion(inv.cluster.kubernetesVersion)!.minor);
    let down: string[] = [];
    await pollUntil(
      async () => (down = [...(await askLocal(target.host, checks))].filter(([, ok]) => !ok).map(([name]) => name)).length === 0,
      {
        timeoutMs: JOIN_WAIT_MS,
        failure: () =>
          `${self.nodeName}: ${down.join(', ')} not healthy within ${JOIN_WAIT_MS / 1000} s (journalctl -u kubelet; /var/log/pods)`,
      },
    );
    await markInventoryNode(api, inv, self.nodeName);
    if (input.servingIdentity) await approveWhenAsked(api, self.nodeName, input.servingIdentity);
  } finally {
    await api.close();
  }
}
