/**
 * The files that make a node a Kubernetes node, rendered from the inventory: a control plane's
 * static-pod manifests and the kubelet's own files; and what a node holds today in
 * /etc/kubernetes (PKI, kubeconfigs), read back so plans compare with it.
 */
import { API_PORT, isControlPlane, resolveHosts, type ResolvedHost } from '../inventory/resolve.js';
import type { Inventory } from '../inventory/schema.js';
import type { FileSet } from '../pki/cluster-pki.js';
import { nodePki } from '../pki/from-inventory.js';
import { quote } from '../transport/quote.js';
import { parseCidr, nthAddress, type Cidr } from '../util/cidr.js';
import { parseVersion, versionTag } from '../util/version.js';
import type { DesiredFile } from '../kit/managed-files.js';
import type { HostTarget } from '../kit/phase.js';
import { manifestYaml, OPTIONAL_CA_DIRS, type ControlPlaneInput } from '../../templates/control-plane.js';
import {
  KUBELET_DROP_IN,
  KUBELET_DROP_IN_PATH,
  kubeletConfigYaml,
  kubeletFlagsEnv,
  kubeletInstanceConfig,
  type KubeletInput,
} from '../../templates/kubelet.js';
import {
  containerdConfigVersion,
  etcdImageTag,
  expectedContainerdConfigVersion,
  KUBEADM_CHANGES,
  sandboxImage,
} from '../../templates/versions.js';
import { DEFAULT_LB_IMAGE, type LoadBalancerInput } from '../../templates/api-load-balancer.js';
import {
  CERTS_D,
  CONTAINERD_CONFIG,
  CRICTL_CONFIG,
  renderContainerdConfig,
  renderCrictlConfig,
  renderHostsToml,
} from '../../templates/containerd.js';
import type { Pod } from '../../templates/objects.js';
import { KUBELET_CONFIG, KUBELET_FLAGS, KUBELET_INSTANCE_CONFIG, KUBERNETES_DIR, MANIFESTS_DIR } from '../../templates/paths.js';

/** Files of /etc/kubernetes kubestrap's PKI owns: certificates, keys and kubeconfigs. */
const LIST_PKI = `find ${KUBERNETES_DIR}/pki -type f 2>/dev/null; find ${KUBERNETES_DIR} -maxdepth 1 -name '*.conf' -type f 2>/dev/null`;

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
    patch: version.patch,
    kubernetesVersion: versionTag(version),
    nodeName: node.nodeName,
    advertiseAddress: node.advertiseAddress,
    bindPort: API_PORT,
    imageRepository: c.imageRepository,
    etcdImageTag: etcdImageTag(version, c.etcd.imageTag),
    clusterName: c.name,
    dnsDomain: c.networking.dnsDomain,
    serviceSubnet: c.networking.serviceSubnet,
    podSubnet: c.networking.podSubnet,
    presentCaDirs,
    apiServer: c.apiServer,
    controllerManager: c.controllerManager,
    scheduler: c.scheduler,
    etcd: c.etcd,
    ...(c.etcd.external ? { externalEtcd: c.etcd.external } : {}),
  };
}

/** The node-local API balancer of workers (apiLoadBalancer.mode node-local): every control plane behind 127.0.0.1. */
export function loadBalancerInput(inv: Inventory): LoadBalancerInput {
  return {
    listenPort: API_PORT,
    apiServers: resolveHosts(inv)
      .filter(isControlPlane)
      .map((h) => ({ name: h.nodeName, address: h.advertiseAddress!, port: API_PORT })),
    image: inv.cluster.apiLoadBalancer.image ?? DEFAULT_LB_IMAGE,
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
    extraArgs: c.kubelet.extraArgs,
    // the inventory's taints from the first moment the Node exists: no pod lands there before them
    ...(spec.taints.length
      ? { registerTaints: spec.taints.map((t) => `${t.key}${t.value !== undefined ? `=${t.value}` : ''}:${t.effect}`) }
      : {}),
    ...(c.kubelet.failCgroupV1 !== undefined ? { failCgroupV1: c.kubelet.failCgroupV1 } : {}),
  };
}

/**
 * The kubelet's own files (every node: control planes here, workers when they join);
 * `publishedConfig` is the cluster's kubelet-config when joining a cluster kubestrap did not render.
 */
export function kubeletFiles(inv: Inventory, spec: ResolvedHost, hostname: string, publishedConfig?: string): DesiredFile[] {
  const input = kubeletInput(inv, spec, hostname);
  return [
    { path: KUBELET_CONFIG, content: kubeletConfigYaml(input, publishedConfig), mode: 0o644, compare: 'yaml' },
    ...(KUBEADM_CHANGES.nodeLocalCriSocket(input)
      ? [{ path: KUBELET_INSTANCE_CONFIG, content: kubeletInstanceConfig(input), mode: 0o644 }]
      : []),
    { path: KUBELET_FLAGS, content: kubeletFlagsEnv(input), mode: 0o644 },
    { path: KUBELET_DROP_IN_PATH, content: KUBELET_DROP_IN, mode: 0o644 },
  ];
}

export const manifestPath = (component: string) => `${MANIFESTS_DIR}/${component}.yaml`;
export const ETCD_MANIFEST = manifestPath('etcd');

/** Each static pod's manifest, named with the component it runs. */
export function manifestFiles<C extends string>(pods: Partial<Record<C, Pod>>): Array<DesiredFile & { readonly component: C }> {
  return (Object.entries(pods) as Array<[C, Pod]>).map(([component, pod]) => ({
    path: manifestPath(component),
    content: manifestYaml(pod),
    mode: 0o600,
    compare: 'yaml',
    component,
  }));
}

/** Reads the node's current PKI and kubeconfigs (relative to /etc/kubernetes) and its CA dirs. */
export async function readNodeState(target: HostTarget): Promise<{ files: FileSet; caDirs: string[] }> {
  const listing = await target.host.check(
    `${LIST_PKI}\n${OPTIONAL_CA_DIRS.map((d) => `[ -d ${quote(d)} ] && echo ${quote(`dir ${d}`)}`).join('\n')}\ntrue`,
  );
  const lines = listing.stdout.split('\n').filter(Boolean);
  const paths = lines.filter((l) => l.startsWith('/'));
  const caDirs = lines.filter((l) => l.startsWith('dir ')).map((l) => l.slice(4));
  const read = await target.host.readFiles(paths);
  const files = new Map(
    [...read].flatMap(([path, file]) => (file ? [[path.slice(KUBERNETES_DIR.length + 1), file.content.toString('utf8')] as const] : [])),
  );
  return { files, caDirs };
}

/**
 * The runtime's files for the containerd version the host has or will get (undefined: not known
 * before it is installed; the release's expected containerd then decides, and apply re-renders
 * for what was installed).
 */
export function desiredRuntimeFiles(inv: Inventory, containerdVersion?: string): DesiredFile[] {
  const rt = inv.cluster.containerRuntime;
  const minor = parseVersion(inv.cluster.kubernetesVersion)!.minor;
  const configVersion = containerdVersion ? containerdConfigVersion(containerdVersion) : expectedContainerdConfigVersion(minor);
  const files: DesiredFile[] = [
    {
      path: CONTAINERD_CONFIG,
      content: renderContainerdConfig(
        {
          sandboxImage: sandboxImage(inv.cluster.imageRepository, minor, rt.sandboxImage),
          systemdCgroup: rt.cgroupDriver === 'systemd',
          restrictOOMScoreAdj: rt.restrictOOMScoreAdj,
        },
        configVersion,
      ),
      mode: 0o644,
    },
    { path: CRICTL_CONFIG, content: renderCrictlConfig(rt.socket), mode: 0o644 },
  ];
  for (const [registry, endpoints] of Object.entries(rt.registryMirrors)) {
    files.push({ path: `${CERTS_D}/${registry}/hosts.toml`, content: renderHostsToml(registry, endpoints), mode: 0o644 });
  }
  return files;
}
