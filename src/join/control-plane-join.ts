/**
 * A control plane joining a running one (kubeadm join --control-plane): with the cluster's
 * shared CA material in hand (carried over SSH by the workstation, or decrypted from
 * kubeadm-certs with the certificate key on the node), it gets its own certificates and
 * kubeconfigs, its etcd member is added to the running etcd cluster before its etcd starts,
 * its static pods and kubelet files are written and the kubelet started; then its etcd member
 * and API server are awaited and its Node is marked as a control plane.
 */
import { EtcdClient, type EtcdCredentials, type EtcdMember } from '../etcd/client.js';
import { serviceControl } from '../facts/services.js';
import { API_PORT } from '../inventory/resolve.js';
import type { Inventory } from '../inventory/schema.js';
import { ApiClient } from '../kube/api-client.js';
import { buildClusterPki, type FileSet } from '../pki/cluster-pki.js';
import { clusterPki, nodePki } from '../pki/from-inventory.js';
import { applyFiles, planFiles, type DesiredFile } from '../workflow/managed-files.js';
import type { HostTarget } from '../workflow/phase.js';
import { controlPlanePods } from '../../templates/control-plane.js';
import { approveWhenAsked, markInventoryNode, type NodeIdentity } from '../kube/node-marking.js';
import { controlPlaneInput, ETCD_MANIFEST, KUBERNETES_DIR, kubeletFiles, manifestFiles, readNodeState } from '../kube/node-files.js';
import { parseVersion } from '../util/version.js';
import { askLocal, localChecks } from '../kube/component-health.js';
import { pollUntil } from '../util/poll.js';

const JOIN_WAIT_MS = 240_000;

export interface ControlPlaneJoinInput {
  /** The shared material, relative to /etc/kubernetes (pki/ca.crt, pki/ca.key, pki/sa.key, pki/etcd/ca.crt …). */
  readonly shared: FileSet;
  /** An etcd client on a running member, given this node's etcd client certificate and admin kubeconfig. */
  readonly openEtcd: (access: { etcd: EtcdCredentials; adminKubeconfig: string }) => Promise<EtcdClient>;
  /** This node's names and addresses, to approve its kubelet serving certificate (undefined: not asked). */
  readonly servingIdentity?: NodeIdentity;
}

/** True when the node already runs a control plane of its own (a re-run leaves it alone). */
export async function controlPlaneJoined(target: HostTarget): Promise<boolean> {
  const [kubelet, etcd] = await Promise.all([target.host.exists(`${KUBERNETES_DIR}/kubelet.conf`), target.host.exists(ETCD_MANIFEST)]);
  return kubelet && etcd;
}

/** The etcd cluster a new member starts into: every member by name, the new one named after its node. */
function initialCluster(members: readonly EtcdMember[], peerUrl: string, nodeName: string): Array<{ name: string; peerUrl: string }> {
  return members.map((m) => {
    if (m.peerUrls.includes(peerUrl)) return { name: nodeName, peerUrl };
    if (!m.name) throw new Error(`etcd has a member that never started (${m.peerUrls.join(', ')}): remove it (etcdctl member remove ${m.id}) before another control plane joins`);
    return { name: m.name, peerUrl: m.peerUrls[0]! };
  });
}

export async function joinControlPlane(inv: Inventory, target: HostTarget, input: ControlPlaneJoinInput): Promise<void> {
  const self = nodePki(target.spec);
  const state = await readNodeState(target);
  // the shared material counts as this node's own: its CAs are kept, its leaves issued from them
  const existing = new Map([...state.files, ...input.shared]);
  const pki = await buildClusterPki(clusterPki(inv), [{ node: self, controlPlane: true }], new Map([[self.nodeName, existing]]));
  const mismatches = pki.findings.filter((f) => f.status === 'mismatch');
  if (mismatches.length) throw new Error(`existing certificates do not match the cluster: ${mismatches.map((m) => `${m.file}: ${m.problems.join('; ')}`).join(' | ')}`);
  const writes = pki.writes.get(self.nodeName) ?? [];
  const file = (path: string) => writes.find((f) => f.path === path)?.content ?? existing.get(path)!;
  const sharedWrites = [...input.shared].filter(([path]) => state.files.get(path) !== input.shared.get(path)).map(([path, content]) => ({ path, content, mode: path.endsWith('.crt') ? 0o644 : 0o600 }));

  // etcd first: the member must be known to the cluster before its etcd starts
  const host = self.advertiseAddress.includes(':') ? `[${self.advertiseAddress}]` : self.advertiseAddress;
  const peerUrl = `https://${host}:2380`;
  const etcd = await input.openEtcd({ etcd: { ca: file('pki/etcd/ca.crt'), cert: file('pki/apiserver-etcd-client.crt'), key: file('pki/apiserver-etcd-client.key') }, adminKubeconfig: file('admin.conf') });
  try {
    let members = await etcd.members();
    if (!members.some((m) => m.peerUrls.includes(peerUrl))) members = await etcd.addMember(peerUrl);
    const pods = controlPlanePods({ ...controlPlaneInput(inv, target.spec, state.caDirs), etcdInitialCluster: initialCluster(members, peerUrl, self.nodeName) });
    const desired: DesiredFile[] = [
      ...[...sharedWrites, ...writes].map((f) => ({ path: `${KUBERNETES_DIR}/${f.path}`, content: f.content, mode: f.mode, secret: f.mode === 0o600 })),
      ...manifestFiles(pods),
      ...kubeletFiles(inv, target.spec, target.facts.hostname),
    ];
    await target.host.check('install -d -m 0700 /var/lib/etcd');
    await applyFiles(target.host, await planFiles(target.host, desired));
    const services = serviceControl(target.facts.initSystem);
    if (!services) throw new Error(`no init system kubestrap can drive (found ${target.facts.initSystem})`);
    await target.host.check(`${services.enableNow('kubelet')} && ${services.restart('kubelet')}`);
    await pollUntil(async () => (await etcd.members()).some((m) => m.peerUrls.includes(peerUrl) && m.name === self.nodeName), {
      timeoutMs: JOIN_WAIT_MS,
      ignoreErrors: true,
      failure: () => `${self.nodeName}'s etcd member did not start within ${JOIN_WAIT_MS / 1000} s (journalctl -u kubelet; the etcd pod log under /var/log/pods)`,
    });
  } finally {
    await etcd.close();
  }
  const api = await ApiClient.open(target.host, API_PORT, file('admin.conf'));
  try {
    await api.waitReady(JOIN_WAIT_MS, `${self.nodeName}'s API server was not ready (/readyz) within ${JOIN_WAIT_MS / 1000} s (journalctl -u kubelet; /var/log/pods/kube-system_kube-apiserver-*)`);
    // from 1.34 kubeadm's join also waits for the controller-manager and the scheduler
    const checks = localChecks(parseVersion(inv.cluster.kubernetesVersion)!.minor);
    let down: string[] = [];
    await pollUntil(async () => (down = [...(await askLocal(target.host, checks))].filter(([, ok]) => !ok).map(([name]) => name)).length === 0, {
      timeoutMs: JOIN_WAIT_MS,
      failure: () => `${self.nodeName}: ${down.join(', ')} not healthy within ${JOIN_WAIT_MS / 1000} s (journalctl -u kubelet; /var/log/pods)`,
    });
    await markInventoryNode(api, inv, self.nodeName);
    if (input.servingIdentity) await approveWhenAsked(api, self.nodeName, input.servingIdentity);
  } finally {
    await api.close();
  }
}
