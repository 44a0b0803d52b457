/**
 * control-plane: everything the first control-plane node needs on disk before its kubelet can
 * run the control plane: the PKI and kubeconfigs (kept when present and valid, generated when
 * missing), the four static-pod manifests, the kubelet's config.yaml, kubeadm-flags.env and its
 * systemd drop-in. Existing material is read back from the node, so a second apply changes
 * nothing and a re-run after a partial failure completes only what is missing.
 */
import { API_PORT, isControlPlane, type ResolvedHost, resolveHosts } from '../src/inventory/resolve.js';
import type { Pod } from '../src/kube/objects.js';
import type { Inventory } from '../src/inventory/schema.js';
import { buildClusterPki, type FileSet } from '../src/pki/cluster-pki.js';
import { clusterPki, nodePki } from '../src/pki/from-inventory.js';
import { quote } from '../src/transport/quote.js';
import { parseCidr, nthAddress, type Cidr } from '../src/util/cidr.js';
import { parseVersion, versionTag } from '../src/util/version.js';
import { applyFiles, planFiles, type DesiredFile, type FilePayload } from '../src/workflow/managed-files.js';
import type { HostTarget, Phase, PhaseContext } from '../src/workflow/phase.js';
import { controlPlanePods, manifestYaml, MANIFESTS_DIR, OPTIONAL_CA_DIRS, type ControlPlaneInput } from '../templates/control-plane.js';
import { KUBELET_CONFIG_PATH, KUBELET_DROP_IN, KUBELET_DROP_IN_PATH, KUBELET_FLAGS_PATH, kubeletConfigYaml, kubeletFlagsEnv, type KubeletInput } from '../templates/kubelet.js';
import { etcdImageTag } from '../templates/versions.js';

export const KUBERNETES_DIR = '/etc/kubernetes';
/** Files of /etc/kubernetes kubestrap's PKI owns: certificates, keys and kubeconfigs. */
const LIST_PKI = `find ${KUBERNETES_DIR}/pki -type f 2>/dev/null; find ${KUBERNETES_DIR} -maxdepth 1 -name '*.conf' -type f 2>/dev/null`;

function firstControlPlane(ctx: PhaseContext): HostTarget | undefined {
  return ctx.hosts.find((h) => isControlPlane(h.spec));
}

/** The control plane's first host, as the inventory orders them (even if it did not connect). */
function firstControlPlaneName(inv: Inventory): string {
  return resolveHosts(inv).find(isControlPlane)!.name;
}

/** selectHosts of the init phases: the inventory's first control plane, when it connected. */
export function onFirstControlPlane(ctx: PhaseContext): readonly HostTarget[] {
  const first = firstControlPlane(ctx);
  return first && first.spec.name === firstControlPlaneName(ctx.inventory) ? [first] : [];
}

function subnet(text: string): Cidr {
  const c = parseCidr(text);
  if (typeof c === 'string') throw new Error(c);
  return c;
}

export function clusterDnsIp(inv: Inventory): string {
  return nthAddress(subnet(inv.cluster.networking.serviceSubnet), 10);
}

export function controlPlaneInput(inv: Inventory, spec: ResolvedHost, presentCaDirs: readonly string[]): ControlPlaneInput {
  const c = inv.cluster;
  const version = parseVersion(c.kubernetesVersion)!;
  const node = nodePki(spec);
  return {
    minor: version.minor,
    kubernetesVersion: versionTag(version),
    nodeName: node.nodeName,
    advertiseAddress: node.advertiseAddress,
    bindPort: API_PORT,
    imageRepository: c.imageRepository,
    etcdImageTag: etcdImageTag(version.minor, c.etcd.imageTag),
    clusterName: c.name,
    dnsDomain: c.networking.dnsDomain,
    serviceSubnet: c.networking.serviceSubnet,
    podSubnet: c.networking.podSubnet,
    presentCaDirs,
    apiServer: c.apiServer,
    controllerManager: c.controllerManager,
    scheduler: c.scheduler,
    etcd: c.etcd,
  };
}

/** The kubelet's settings on a node; `hostname` is the host's current name (facts). */
export function kubeletInput(inv: Inventory, spec: ResolvedHost, hostname: string): KubeletInput {
  const c = inv.cluster;
  return {
    minor: parseVersion(c.kubernetesVersion)!.minor,
    cgroupDriver: c.containerRuntime.cgroupDriver,
    clusterDns: clusterDnsIp(inv),
    clusterDomain: c.networking.dnsDomain,
    criSocket: c.containerRuntime.socket,
    imageRepository: c.imageRepository,
    sandboxImageOverride: c.containerRuntime.sandboxImage,
    nodeName: spec.nodeName,
    hostname,
    nodeIp: nodePki(spec).advertiseAddress,
    serverTlsBootstrap: c.addons.metricsServer && !c.addons.metricsServerInsecureTLS,
  };
}

/**
 * The kubelet's own files (every node: control planes here, workers when they join);
 * `publishedConfig` is the cluster's kubelet-config when joining a cluster kubestrap did not render.
 */
export function kubeletFiles(inv: Inventory, spec: ResolvedHost, hostname: string, publishedConfig?: string): DesiredFile[] {
  const input = kubeletInput(inv, spec, hostname);
  return [
    { path: KUBELET_CONFIG_PATH, content: publishedConfig ?? kubeletConfigYaml(input), mode: 0o644 },
    { path: KUBELET_FLAGS_PATH, content: kubeletFlagsEnv(input), mode: 0o644 },
    { path: KUBELET_DROP_IN_PATH, content: KUBELET_DROP_IN, mode: 0o644 },
  ];
}

export function manifestFiles(pods: Record<string, Pod>): DesiredFile[] {
  return Object.entries(pods).map(([name, pod]) => ({ path: `${MANIFESTS_DIR}/${name}.yaml`, content: manifestYaml(pod), mode: 0o600 }));
}

/** Reads the node's current PKI and kubeconfigs (relative to /etc/kubernetes) and its CA dirs. */
export async function readNodeState(target: HostTarget): Promise<{ files: FileSet; caDirs: string[] }> {
  const listing = await target.host.check(`${LIST_PKI}\n${OPTIONAL_CA_DIRS.map((d) => `[ -d ${quote(d)} ] && echo ${quote(`dir ${d}`)}`).join('\n')}\ntrue`);
  const lines = listing.stdout.split('\n').filter(Boolean);
  const paths = lines.filter((l) => l.startsWith('/'));
  const caDirs = lines.filter((l) => l.startsWith('dir ')).map((l) => l.slice(4));
  const read = await target.host.readFiles(paths);
  const files = new Map([...read].flatMap(([path, file]) => (file ? [[path.slice(KUBERNETES_DIR.length + 1), file.content.toString('utf8')] as const] : [])));
  return { files, caDirs };
}

export const controlPlanePhase: Phase<FilePayload> = {
  name: 'control-plane',
  title: 'PKI, kubeconfigs, static-pod manifests and kubelet files on the first control plane',
  description: 'Generates (or keeps) the PKI and kubeconfigs, writes the etcd, kube-apiserver, kube-controller-manager and kube-scheduler manifests and the kubelet configuration.',
  selectHosts: onFirstControlPlane,
  async plan(ctx, target) {
    const { files, caDirs } = await readNodeState(target);
    const node = { node: nodePki(target.spec), controlPlane: true };
    const pki = await buildClusterPki(clusterPki(ctx.inventory), [node], new Map([[node.node.nodeName, files]]));
    const mismatches = pki.findings.filter((f) => f.status === 'mismatch');
    if (mismatches.length) {
      throw new Error(`existing certificates do not match the inventory (kubestrap leaves them alone; renew them with kubestrap certs renew): ${mismatches.map((m) => `${m.file}: ${m.problems.join('; ')}`).join(' | ')}`);
    }
    const pods = controlPlanePods(controlPlaneInput(ctx.inventory, target.spec, caDirs));
    const desired: DesiredFile[] = [
      ...(pki.writes.get(node.node.nodeName) ?? []).map((f) => ({ path: `${KUBERNETES_DIR}/${f.path}`, content: f.content, mode: f.mode, secret: f.mode === 0o600 })),
      ...manifestFiles(pods),
      ...kubeletFiles(ctx.inventory, target.spec, target.facts.hostname),
    ];
    return { changes: await planFiles(target.host, desired) };
  },
  async apply(_ctx, target, changes) {
    // etcd's data directory must exist with 0700 before etcd starts (kubeadm creates it so)
    await target.host.check('install -d -m 0700 /var/lib/etcd');
    await applyFiles(target.host, changes);
  },
};
