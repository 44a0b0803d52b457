/**
 * An inventory worker's join, in two halves. First (join-workers) its kubelet starts with a client
 * certificate kubestrap issues from the cluster CA — no API needed, so it runs while the control
 * plane is still coming up and the kubelet registers as soon as the API answers. Then
 * (worker-nodes), through the API, its Node is awaited and marked. A marker file written before
 * anything else says the second half is still to do: an interrupted run finishes it, and a
 * finished join costs no API call to plan.
 */
import { forgetFlannelMembership } from './stale-cni-bridge.js';
import { requireService } from '../facts/services.js';
import type { Inventory } from '../inventory/schema.js';
import { serverUrl } from '../pki/catalogue.js';
import { workerKubeletConf } from '../pki/cluster-pki.js';
import { clusterPki, nodePki } from '../pki/from-inventory.js';
import { applyFiles, planFiles } from '../kit/managed-files.js';
import type { HostTarget } from '../kit/phase.js';
import { kubeletFiles } from '../kube/node-files.js';
import { CA_CERT, CA_KEY, JOIN_PENDING, KUBELET_CONF } from '../../templates/paths.js';

/** Present from the first file a join writes until the worker's Node is confirmed (reset removes it). */

/** Whether the worker's join is done: its kubelet has credentials and its Node was confirmed. */
export async function workerJoinState(target: HostTarget): Promise<'joined' | 'not started' | 'pending'> {
  const out = (await target.host.exec(`test -e ${KUBELET_CONF} && echo conf; test -e ${JOIN_PENDING} && echo pending; true`)).stdout;
  if (!out.includes('conf')) return 'not started';
  return out.includes('pending') ? 'pending' : 'joined';
}

/**
 * Issues the worker's kubelet.conf from the CA on `controlPlane`, writes it with the CA
 * certificate and the kubelet's files (the marker first, kubelet.conf last), and starts the kubelet.
 */
export async function startWorkerKubelet(inv: Inventory, target: HostTarget, controlPlane: HostTarget): Promise<void> {
  const kubelet = requireService(target.facts.initSystem, 'kubelet');
  const ca = await controlPlane.host.readFiles([CA_CERT, CA_KEY]);
  const certPem = ca.get(CA_CERT)?.content.toString('utf8');
  const keyPem = ca.get(CA_KEY)?.content.toString('utf8');
  if (!certPem || !keyPem)
    throw new Error(
      `${controlPlane.spec.name} has no cluster CA (${CA_CERT}, ${CA_KEY}): workers join once the control plane's certificates exist`,
    );
  // the endpoint nodes use: the inventory's, else the first control plane's address
  const server = serverUrl(clusterPki(inv), nodePki(controlPlane.spec), 'endpoint');
  const kubeletConf = await workerKubeletConf(clusterPki(inv), nodePki(target.spec), server, { certPem, keyPem });
  const files = [
    { path: JOIN_PENDING, content: `kubestrap: ${target.spec.nodeName} joins; its Node is not confirmed yet\n`, mode: 0o644 },
    { path: CA_CERT, content: certPem, mode: 0o644 },
    ...kubeletFiles(inv, target.spec, target.facts.hostname),
    { path: KUBELET_CONF, content: kubeletConf, mode: 0o600, secret: true },
  ];
  // a node joining again keeps Flannel's bridge and range of its earlier membership: gone first
  if (inv.cluster.cni.plugin === 'flannel') await target.host.check(forgetFlannelMembership());
  await applyFiles(target.host, await planFiles(target.host, files));
  await target.host.check(`${kubelet.enableNow()} && ${kubelet.restart()}`);
}
