/**
 * What a joining node learns from the cluster with its bootstrap token (the RBAC kubeadm sets
 * up lets bootstrappers read exactly these): kube-system/kubeadm-config and the kubelet-config
 * ConfigMap, and from them the one-host inventory `kubestrap join` prepares this node with.
 * Cluster facts (version, image repository, networks) come from the cluster; site settings
 * (package mirror, containerd, preparation) from the operator's inventory file when given.
 */
import { parse } from 'yaml';
import { ApiClient, ApiError } from '../kube/api-client.js';
import { kubeletConfigMapName } from '../kube/cluster-objects.js';
import { KubeadmConfigError, readKubeadmConfig, type KubeadmClusterConfig } from '../kube/kubeadm-config.js';
import { parseInventory } from '../inventory/load.js';
import type { HostSpec, Inventory, Role } from '../inventory/schema.js';
import { formatToken, type BootstrapToken } from '../pki/bootstrap-token.js';
import { parseVersion } from '../util/version.js';
import { JoinError, TOKEN_HINT, type Discovered } from './discovery.js';

export interface ClusterSettings {
  readonly clusterName: string;
  readonly kubernetesVersion: string;
  readonly imageRepository: string;
  readonly controlPlaneEndpoint?: string;
  readonly podSubnet?: string;
  readonly serviceSubnet?: string;
  readonly dnsDomain?: string;
  /** The cluster's KubeletConfiguration text, written to the node as is. */
  readonly kubeletConfig: string;
  /** What a joining control plane runs like the others (ClusterConfiguration). */
  readonly certSANs: readonly string[];
  readonly extraArgs: {
    readonly apiServer: Record<string, string>;
    readonly controllerManager: Record<string, string>;
    readonly scheduler: Record<string, string>;
    readonly etcd: Record<string, string>;
  };
  readonly etcdImageTag?: string;
  /** etcd.external's endpoints, when the cluster's etcd is not stacked on its control planes. */
  readonly externalEtcdEndpoints?: readonly string[];
  readonly cgroupDriver?: 'systemd' | 'cgroupfs';
  /** The kubelets ask the cluster CA for serving certificates (someone must approve them). */
  readonly serverTlsBootstrap: boolean;
}

async function readConfigMap(api: ApiClient, name: string, token: BootstrapToken): Promise<Record<string, string>> {
  try {
    const cm = await api.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'kube-system', name });
    if (!cm)
      throw new JoinError(
        `the cluster has no kube-system/${name} ConfigMap: it was not set up by kubeadm or kubestrap, so this node cannot learn its settings`,
      );
    return (cm.data ?? {}) as Record<string, string>;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401)
      throw new JoinError(
        `the API server does not accept token "${token.id}" for authentication: it has expired, was deleted, or lacks the authentication usage. ${TOKEN_HINT}.`,
      );
    if (err instanceof ApiError && err.status === 403)
      throw new JoinError(
        `token "${token.id}" may not read kube-system/${name}: the token lacks the group system:bootstrappers:kubeadm:default-node-token, or the cluster lacks kubeadm's RBAC for joining nodes`,
      );
    throw err;
  }
}

export async function readClusterSettings(discovered: Discovered, token: BootstrapToken): Promise<ClusterSettings> {
  const api = ApiClient.direct(discovered.via, { ca: discovered.caCertPem, token: formatToken(token) });
  const kubeadm = await readConfigMap(api, 'kubeadm-config', token);
  const config = clusterConfig(kubeadm);
  const version = parseVersion(config.kubernetesVersion);
  if (!version)
    throw new JoinError(
      `kube-system/kubeadm-config names no Kubernetes version kubestrap understands (${JSON.stringify(config.kubernetesVersion)})`,
    );
  const kubeletConfig = (await readConfigMap(api, kubeletConfigMapName(version.minor), token)).kubelet;
  if (!kubeletConfig) throw new JoinError(`kube-system/${kubeletConfigMapName(version.minor)} holds no kubelet configuration`);
  const kubelet = (parse(kubeletConfig) ?? {}) as { cgroupDriver?: 'systemd' | 'cgroupfs'; serverTLSBootstrap?: boolean };
  return {
    clusterName: config.clusterName,
    kubernetesVersion: config.kubernetesVersion,
    imageRepository: config.imageRepository,
    ...(config.controlPlaneEndpoint ? { controlPlaneEndpoint: config.controlPlaneEndpoint } : {}),
    ...(config.networking.podSubnet ? { podSubnet: config.networking.podSubnet } : {}),
    serviceSubnet: config.networking.serviceSubnet,
    dnsDomain: config.networking.dnsDomain,
    kubeletConfig,
    ...(kubelet.cgroupDriver ? { cgroupDriver: kubelet.cgroupDriver } : {}),
    serverTlsBootstrap: kubelet.serverTLSBootstrap === true,
    certSANs: config.certSANs,
    extraArgs: {
      apiServer: config.apiServer.extraArgs,
      controllerManager: config.controllerManager.extraArgs,
      scheduler: config.scheduler.extraArgs,
      etcd: config.etcd.kind === 'local' ? config.etcd.extraArgs : {},
    },
    ...(config.etcd.kind === 'local' && config.etcd.imageTag ? { etcdImageTag: config.etcd.imageTag } : {}),
    ...(config.etcd.kind === 'external' ? { externalEtcdEndpoints: config.etcd.endpoints } : {}),
  };
}

/** The ClusterConfiguration, or why this node cannot join with it. */
function clusterConfig(kubeadm: Record<string, string>): KubeadmClusterConfig {
  try {
    return readKubeadmConfig(kubeadm);
  } catch (err) {
    if (err instanceof KubeadmConfigError) throw new JoinError(`kube-system/${err.message}`);
    throw err;
  }
}

/** kubestrap's defaults with this node as the only host (its version is replaced by the cluster's). */
async function nodeOnlyInventory(node: JoiningNode): Promise<Inventory> {
  const text = `apiVersion: kubestrap.dev/v1alpha1\nkind: Cluster\nhosts:\n  - {name: ${JSON.stringify(node.name)}, address: ${JSON.stringify(node.address)}, roles: [control-plane]}\ncluster:\n  kubernetesVersion: v1.30.0\n`;
  return (await parseInventory(text, '<defaults>', { checkKeyFiles: false })).inventory;
}

export interface JoiningNode {
  readonly name: string;
  readonly address: string;
  readonly role: Role;
  readonly criSocket?: string;
}

/**
 * The inventory this node is prepared and joined with: the operator's file (or the defaults),
 * with the cluster's own facts laid over it and this node as a host of it.
 */
export async function joinInventory(settings: ClusterSettings, node: JoiningNode, site: Inventory | undefined): Promise<Inventory> {
  const fresh = await nodeOnlyInventory(node);
  const base = site ?? fresh;
  const listed = site?.hosts.find((h) => (h.nodeName ?? h.name) === node.name);
  const self: HostSpec = { ...(listed ?? fresh.hosts[0]!), roles: [node.role] };
  const c = base.cluster;
  return {
    ...base,
    // the operator's file names every host; without it, this node is the only one known
    hosts: listed ? site!.hosts.map((h) => (h === listed ? self : h)) : [...(site?.hosts ?? []), self],
    preparation: site ? base.preparation : { ...base.preparation, setHostname: false, manageEtcHosts: false },
    cluster: {
      ...c,
      name: settings.clusterName,
      kubernetesVersion: settings.kubernetesVersion,
      imageRepository: settings.imageRepository,
      ...(settings.controlPlaneEndpoint ? { controlPlaneEndpoint: settings.controlPlaneEndpoint } : {}),
      networking: {
        ...c.networking,
        ...(settings.podSubnet ? { podSubnet: settings.podSubnet } : {}),
        ...(settings.serviceSubnet ? { serviceSubnet: settings.serviceSubnet } : {}),
        ...(settings.dnsDomain ? { dnsDomain: settings.dnsDomain } : {}),
      },
      containerRuntime: {
        ...c.containerRuntime,
        ...(settings.cgroupDriver ? { cgroupDriver: settings.cgroupDriver } : {}),
        ...(node.criSocket ? { socket: node.criSocket } : {}),
      },
      certificates: { ...c.certificates, certSANs: [...settings.certSANs] },
      apiServer: { ...c.apiServer, extraArgs: settings.extraArgs.apiServer },
      controllerManager: { ...c.controllerManager, extraArgs: settings.extraArgs.controllerManager },
      scheduler: { ...c.scheduler, extraArgs: settings.extraArgs.scheduler },
      etcd: { ...c.etcd, extraArgs: settings.extraArgs.etcd, ...(settings.etcdImageTag ? { imageTag: settings.etcdImageTag } : {}) },
    },
  };
}
