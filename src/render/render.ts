/**
 * `kubestrap render`: every file apply would place on each node and every API object it would
 * create, computed from the inventory alone (no host is contacted). What apply learns from a
 * host is assumed: its host name is its node name, its kernel is 4.19 or newer, and it has none
 * of the optional CA bundle directories. The PKI is generated into (or reused from) the output
 * directory, like `certs generate`, so a second render gives the same certificates.
 */
import { isControlPlane, resolveHosts } from '../inventory/resolve.js';
import type { Inventory } from '../inventory/schema.js';
import { buildClusterPki } from '../pki/cluster-pki.js';
import { clusterPki, pkiNodes } from '../pki/from-inventory.js';
import { readNodeFiles } from '../pki/local-store.js';
import type { KubeObject } from '../../templates/objects.js';
import { stringify } from 'yaml';
import { controlPlaneInput, desiredRuntimeFiles, kubeletFiles, manifestFiles } from '../kube/node-files.js';
import { desiredObjects } from '../kube/desired-objects.js';
import { inventoryCalicoManifest } from '../kube/addon-set.js';
import { controlPlanePods } from '../../templates/control-plane.js';
import { MODULES_FILE, renderModulesLoad, requiredModules } from '../../templates/kernel-modules.js';
import { renderSysctlConf, SYSCTL_FILE, sysctlSettings } from '../../templates/sysctl.js';
import { KUBERNETES_DIR } from '../../templates/paths.js';

export interface RenderedFile {
  /** Path under the output directory: <node>/<absolute path on the node>, or cluster/<object>. */
  readonly path: string;
  readonly content: string;
  readonly mode: number;
}

const objectFileName = (o: KubeObject, i: number) =>
  `cluster/${String(i + 1).padStart(2, '0')}-${o.kind.toLowerCase()}-${o.metadata.namespace ? `${o.metadata.namespace}-` : ''}${o.metadata.name.replaceAll(':', '_')}.yaml`;

export async function renderCluster(inv: Inventory, out: string): Promise<RenderedFile[]> {
  const hosts = resolveHosts(inv);
  const first = hosts.find(isControlPlane)!;
  const nodes = pkiNodes(inv).filter((n) => n.node.nodeName === first.nodeName);
  const pki = await buildClusterPki(clusterPki(inv), nodes, new Map([[first.nodeName, readNodeFiles(out, first.nodeName)]]));
  const files: RenderedFile[] = [];
  const add = (node: string, f: { path: string; content: string | Buffer; mode: number }) =>
    files.push({ path: `${node}${f.path}`, content: f.content.toString(), mode: f.mode });
  const modules = requiredModules({
    ipvs: inv.cluster.kubeProxy.mode === 'ipvs',
    kernelBefore419: false,
    extra: inv.preparation.kernelModules,
  });
  for (const host of hosts) {
    add(host.nodeName, { path: SYSCTL_FILE, content: renderSysctlConf(sysctlSettings(inv.preparation.sysctl)), mode: 0o644 });
    add(host.nodeName, { path: MODULES_FILE, content: renderModulesLoad(modules), mode: 0o644 });
    for (const f of desiredRuntimeFiles(inv)) add(host.nodeName, f);
    if (host !== first) continue;
    for (const f of pki.writes.get(first.nodeName) ?? []) add(host.nodeName, { ...f, path: `${KUBERNETES_DIR}/${f.path}` });
    for (const f of manifestFiles(controlPlanePods(controlPlaneInput(inv, host, [])))) add(host.nodeName, f);
    for (const f of kubeletFiles(inv, host, host.nodeName)) add(host.nodeName, f);
  }
  const ca =
    pki.writes.get(first.nodeName)?.find((f) => f.path === 'pki/ca.crt')?.content ?? readNodeFiles(out, first.nodeName).get('pki/ca.crt')!;
  const objects = desiredObjects(inv, first, first.nodeName, ca, await inventoryCalicoManifest(inv));
  objects.forEach((o, i) => files.push({ path: objectFileName(o, i), content: stringify(o, { indentSeq: false }), mode: 0o644 }));
  return files;
}
