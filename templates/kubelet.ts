/**
 * The kubelet's files on a node, as kubeadm lays them out (kubeadm-spec §9): config.yaml
 * (KubeletConfiguration), kubeadm-flags.env and the systemd drop-in that starts the kubelet with
 * them. Pure functions of the cluster settings and the node.
 *
 * Version differences: until 1.23 the kubelet needs --container-runtime=remote to use a CRI
 * socket (dockershim era); from 1.24 --pod-infra-container-image tells the kubelet which sandbox
 * image to keep (it must match containerd's sandbox_image, which kubestrap also sets) until 1.35
 * removed the flag; from 1.34 the CRI socket is node-local configuration (instance-config.yaml,
 * merged into config.yaml) instead of a flag (KUBEADM_CHANGES in versions.ts).
 */
import { parse, stringify } from 'yaml';
import { KUBEADM_CHANGES, sandboxImage } from './versions.js';
import { CA_CERT, MANIFESTS_DIR } from './paths.js';

/** kubeadm's node-specific KubeletConfiguration patch (NodeLocalCRISocket, 1.34+). */
/** Same name as the packages' drop-in, in /etc so that it wins over a packaged copy in /usr/lib. */
export const KUBELET_DROP_IN_PATH = '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf';

export interface KubeletInput {
  readonly minor: number;
  readonly cgroupDriver: 'systemd' | 'cgroupfs';
  readonly clusterDns: string;
  readonly clusterDomain: string;
  readonly criSocket: string;
  readonly imageRepository: string;
  readonly sandboxImageOverride?: string;
  readonly nodeName: string;
  readonly hostname: string;
  readonly nodeIp: string;
  /** Taints registered by the kubelet itself (workers joining with taints), key=value:Effect. */
  readonly registerTaints?: readonly string[];
  /** Serving certificate from the cluster CA (requested by the kubelet, approved by kubestrap). */
  readonly serverTlsBootstrap: boolean;
  /** The user's flags (cluster.kubelet.extraArgs); the same name replaces kubestrap's. */
  readonly extraArgs?: Readonly<Record<string, string>>;
  /** cluster.kubelet.failCgroupV1, written when set (false keeps a 1.35+ kubelet running on cgroup v1). */
  readonly failCgroupV1?: boolean;
}

/** The cluster-wide KubeletConfiguration: the kubelet-config ConfigMap holds it, node-agnostic. */
export function kubeletConfiguration(input: KubeletInput): Record<string, unknown> {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: CA_CERT } },
    authorization: { mode: 'Webhook' },
    cgroupDriver: input.cgroupDriver,
    clusterDNS: [input.clusterDns],
    clusterDomain: input.clusterDomain,
    ...(input.failCgroupV1 !== undefined ? { failCgroupV1: input.failCgroupV1 } : {}),
    healthzBindAddress: '127.0.0.1',
    healthzPort: 10248,
    rotateCertificates: true,
    ...(input.serverTlsBootstrap ? { serverTLSBootstrap: true } : {}),
    staticPodPath: MANIFESTS_DIR,
  };
}

/** instance-config.yaml: the node's own part of the configuration, exactly as kubeadm writes it. */
export function kubeletInstanceConfig(input: Pick<KubeletInput, 'criSocket'>): string {
  return `containerRuntimeEndpoint: ${JSON.stringify(input.criSocket)}\n`;
}

/**
 * The node's config.yaml: the cluster's configuration (`published`, the kubelet-config
 * ConfigMap's text, when joining through the cluster) with, from 1.34, the instance
 * configuration merged over it as kubeadm does.
 */
export function kubeletConfigYaml(input: KubeletInput, published?: string): string {
  if (!KUBEADM_CHANGES.nodeLocalCriSocket(input))
    return published ?? stringify(kubeletConfiguration(input), { sortMapEntries: true, indentSeq: false });
  const base = published ? ((parse(published) ?? {}) as Record<string, unknown>) : kubeletConfiguration(input);
  return stringify({ ...base, containerRuntimeEndpoint: input.criSocket }, { sortMapEntries: true, indentSeq: false });
}

/** Go's %q for the simple values flags hold (quotes and backslashes escaped). */
const goQuote = (s: string) => `"${s.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;

export function kubeletFlags(input: KubeletInput): string[] {
  const flags: Record<string, string> = {
    ...(KUBEADM_CHANGES.noContainerRuntimeFlag(input) ? {} : { 'container-runtime': 'remote' }),
    ...(KUBEADM_CHANGES.nodeLocalCriSocket(input) ? {} : { 'container-runtime-endpoint': input.criSocket }),
    ...(KUBEADM_CHANGES.podInfraContainerImageFlag(input)
      ? { 'pod-infra-container-image': sandboxImage(input.imageRepository, input.minor, input.sandboxImageOverride) }
      : {}),
    ...(input.nodeName !== input.hostname.toLowerCase() ? { 'hostname-override': input.nodeName } : {}),
    // explicit, so that hosts with several interfaces register the address the inventory names
    'node-ip': input.nodeIp,
    ...(input.registerTaints?.length ? { 'register-with-taints': input.registerTaints.join(',') } : {}),
    ...input.extraArgs,
  };
  // systemd splits $KUBELET_KUBEADM_ARGS at white space: a value holding one would become flags of its own
  const split = Object.entries(flags).find(([, v]) => /\s/.test(v));
  if (split)
    throw new Error(`kubelet flag --${split[0]}=${JSON.stringify(split[1])} holds white space, which kubeadm-flags.env cannot carry`);
  return Object.keys(flags)
    .sort()
    .map((k) => `--${k}=${flags[k]}`);
}

export function kubeletFlagsEnv(input: KubeletInput): string {
  return `KUBELET_KUBEADM_ARGS=${goQuote(kubeletFlags(input).join(' '))}\n`;
}

export const KUBELET_DROP_IN = `# Managed by kubestrap: how systemd starts the kubelet (kubeadm's layout)
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
EnvironmentFile=-/etc/sysconfig/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
`;
