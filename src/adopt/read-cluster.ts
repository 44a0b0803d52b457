/**
 * Everything `kubestrap adopt` learns about a running kubeadm cluster, read through its first
 * control plane (the API as that node's admin, and the node's own files, in one batched read)
 * and from each other node it reaches (containerd, package source). Refuses, before anything
 * is written anywhere, what kubestrap cannot take over.
 */
import { X509Certificate } from 'node:crypto';
import { parse } from 'yaml';
import { ApiClient, ApiError } from '../kube/api-client.js';
import { kubeletConfigMapName } from '../kube/cluster-objects.js';
import { openExternalEtcd } from '../etcd/external.js';
import { KubeadmConfigError, readKubeadmConfig, type EtcdConfig, type KubeadmClusterConfig } from '../kube/kubeadm-config.js';
import { markings, type Taint } from '../kube/node-marking.js';
import type { Pod } from '../../templates/objects.js';
import { API_PORT } from '../inventory/resolve.js';
import { inspectCertificate } from '../pki/x509.js';
import { quote } from '../transport/quote.js';
import { parseVersion } from '../util/version.js';
import type { HostTarget } from '../kit/phase.js';
import { CERTS_D, CONTAINERD_CONFIG } from '../../templates/containerd.js';
import { readContainerdConfig, type ContainerdReading } from './containerd-config.js';
import { PACKAGE_SOURCE_FILES, readPackageSource, type PackageSourceReading } from './package-source.js';
import { ADMIN_CONF, CA_CERT, MANIFESTS_DIR, PKI_DIR } from '../../templates/paths.js';

/** A cluster kubestrap will not take over, and why; nothing has been changed when it is thrown. */
export class AdoptRefusal extends Error {}

export const STATIC_POD_COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;
export type StaticPodComponent = (typeof STATIC_POD_COMPONENTS)[number];

export interface NodeReading {
  readonly name: string;
  readonly internalIp?: string;
  readonly kubeletVersion: string;
  readonly controlPlane: boolean;
  /** A control plane without kubeadm's NoSchedule role taint (someone took it off to run workloads there). */
  readonly untainted: boolean;
  /** Labels someone set (kubelet's own and kubeadm's role labels left out). */
  readonly labels: Readonly<Record<string, string>>;
  /** Taints someone set (kubeadm's role taint and the node controller's condition taints left out). */
  readonly taints: readonly Taint[];
}

export interface HostReading {
  readonly containerd: ContainerdReading;
  readonly packages?: PackageSourceReading;
}

export interface ClusterReading {
  readonly kubeadm: KubeadmClusterConfig;
  readonly kubelet: { readonly cgroupDriver?: string; readonly serverTLSBootstrap: boolean };
  readonly kubeProxy?: { readonly mode: string; readonly ipvsScheduler?: string; readonly conntrackMaxPerCore?: number };
  readonly addons: {
    readonly coreDNS: boolean;
    readonly kubeProxy: boolean;
    readonly metricsServer: boolean;
    readonly metricsServerInsecureTLS: boolean;
  };
  /** The pod network's DaemonSets (namespace/name) and which plugin kubestrap recognises in them. */
  readonly cni: { readonly plugin?: 'flannel' | 'calico'; readonly daemonSets: readonly string[] };
  readonly nodes: readonly NodeReading[];
  /** The control plane's static pods as its manifests say. */
  readonly manifests: ReadonlyMap<StaticPodComponent, Pod>;
  /** The API server certificate's key type and SANs, and the CA's validity (notAfter − notBefore: kubeadm does not backdate its CA). */
  readonly pki: { readonly keyType: string; readonly apiServerSans: readonly string[]; readonly caValidityHours: number };
  /** The first control plane's own containerd and package source. */
  readonly controlPlaneHost: HostReading;
}

type Obj = Record<string, unknown> & { metadata: { name: string; namespace?: string; labels?: Record<string, string> } };

/** Labels the kubelet sets on its own Node, and kubeadm's role labels: not the operator's. */
const SYSTEM_LABEL =
  /^(kubernetes\.io\/(arch|os|hostname)|beta\.kubernetes\.io\/|topology\.kubernetes\.io\/|failure-domain\.beta\.kubernetes\.io\/|node\.kubernetes\.io\/instance-type)/;
/** Taints the node lifecycle controller and cloud providers put on and take off by themselves. */
const SYSTEM_TAINT = /^(node\.kubernetes\.io\/|node\.cloudprovider\.kubernetes\.io\/)/;

function hoursBetween(cert: string): number {
  const facts = inspectCertificate(cert);
  return Math.round((facts.notAfter.getTime() - facts.notBefore.getTime()) / 3_600_000);
}

function keyType(cert: string): string {
  const key = new X509Certificate(cert).publicKey;
  if (key.asymmetricKeyType === 'rsa') return `RSA-${key.asymmetricKeyDetails?.modulusLength}`;
  if (key.asymmetricKeyType === 'ec') return `ECDSA-${key.asymmetricKeyDetails?.namedCurve}`;
  return String(key.asymmetricKeyType);
}

/** A Node as adopt describes it: its role from kubeadm's labels, what an operator set on it. */
export function nodeReading(node: Obj): NodeReading {
  const status = (node.status ?? {}) as { addresses?: Array<{ type: string; address: string }>; nodeInfo?: { kubeletVersion?: string } };
  const labels = node.metadata.labels ?? {};
  // 1.23's role labels and 1.24's role taints are each the union over every release (master and control-plane)
  const role = markings(23, '').labels;
  const roleTaints = markings(24, '').taints;
  const all = ((node.spec ?? {}) as { taints?: Taint[] }).taints ?? [];
  const isRoleTaint = (t: Taint) => roleTaints.some((r) => r.key === t.key && r.effect === t.effect);
  const taints = all.filter((t) => !SYSTEM_TAINT.test(t.key) && !isRoleTaint(t));
  const controlPlane = 'node-role.kubernetes.io/control-plane' in labels || 'node-role.kubernetes.io/master' in labels;
  const internalIp = status.addresses?.find((a) => a.type === 'InternalIP')?.address;
  return {
    name: node.metadata.name,
    ...(internalIp ? { internalIp } : {}),
    kubeletVersion: status.nodeInfo?.kubeletVersion ?? '',
    controlPlane,
    untainted: controlPlane && !all.some(isRoleTaint),
    labels: Object.fromEntries(Object.entries(labels).filter(([k]) => !SYSTEM_LABEL.test(k) && !(k in role))),
    taints: taints.map((t) => ({ key: t.key, ...(t.value ? { value: t.value } : {}), effect: t.effect })),
  };
}

function cniOf(daemonSets: readonly Obj[]): ClusterReading['cni'] {
  const names = daemonSets.map((d) => `${d.metadata.namespace}/${d.metadata.name}`).filter((n) => !n.endsWith('/kube-proxy'));
  const plugin = names.some((n) => /\/kube-flannel(-ds)?$/.test(n))
    ? 'flannel'
    : names.some((n) => n.endsWith('/calico-node'))
      ? 'calico'
      : undefined;
  return { ...(plugin ? { plugin } : {}), daemonSets: names };
}

function containerArgs(workload: Obj | undefined): string[] {
  const spec = (workload?.spec ?? {}) as { template?: { spec?: { containers?: Array<{ command?: string[]; args?: string[] }> } } };
  return (spec.template?.spec?.containers ?? []).flatMap((c) => [...(c.command ?? []), ...(c.args ?? [])]);
}

/** The node's containerd and package source: one batched read of the files they live in. */
export async function readHost(target: HostTarget): Promise<HostReading> {
  const listing = await target.host.check(`for d in ${quote(CERTS_D)}/*/; do [ -f "$d/hosts.toml" ] && printf '%s\\n' "$d"; done; true`);
  const hostsFiles = listing.stdout
    .split('\n')
    .filter(Boolean)
    .map((d) => `${d.replace(/\/$/, '')}/hosts.toml`);
  const files = await target.host.readFiles([CONTAINERD_CONFIG, ...PACKAGE_SOURCE_FILES, ...hostsFiles]);
  const textOf = (path: string) => files.get(path)?.content.toString('utf8');
  const hostsToml = new Map(hostsFiles.flatMap((p) => (textOf(p) ? [[p.split('/').at(-2)!, textOf(p)!] as const] : [])));
  const packages = PACKAGE_SOURCE_FILES.map((p) => textOf(p))
    .flatMap((t) => (t ? [readPackageSource(t)] : []))
    .find(Boolean);
  return { containerd: readContainerdConfig(textOf(CONTAINERD_CONFIG), hostsToml), ...(packages ? { packages } : {}) };
}

/** Why the API did not answer as this node's admin, in the operator's words. */
function apiRefusal(err: unknown, node: string): never {
  if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
    throw new AdoptRefusal(
      `the API server on ${node} does not accept ${ADMIN_CONF} (${err.status}: ${err.message.split(': ').pop()}): its client certificate may have expired or come from another CA; renew it on the node (kubeadm certs renew admin.conf) and run adopt again`,
    );
  }
  throw new AdoptRefusal(`the API server on ${node} (port ${API_PORT}) did not answer with ${ADMIN_CONF}: ${(err as Error).message}`);
}

/**
 * An external etcd is adopted only when kubestrap can reach it as the API server does (its
 * backup goes through it): from this control plane, with the files kubeadm-config names.
 */
async function reachExternalEtcd(target: HostTarget, etcd: Extract<EtcdConfig, { kind: 'external' }>, node: string): Promise<void> {
  try {
    await (await openExternalEtcd(target.host, etcd)).close();
  } catch (err) {
    throw new AdoptRefusal(
      `the cluster's etcd is external (${etcd.endpoints.join(', ') || 'no endpoints'}) and kubestrap cannot reach it from ${node}: ${(err as Error).message}; nothing was written`,
    );
  }
}

export async function readCluster(target: HostTarget): Promise<ClusterReading> {
  const node = `${target.facts.hostname} (${target.spec.address})`;
  const manifestPaths = STATIC_POD_COMPONENTS.map((c) => `${MANIFESTS_DIR}/${c}.yaml`);
  const files = await target.host.readFiles([ADMIN_CONF, CA_CERT, `${PKI_DIR}/apiserver.crt`, ...manifestPaths]);
  const textOf = (path: string) => files.get(path)?.content.toString('utf8');
  const admin = textOf(ADMIN_CONF);
  if (!admin)
    throw new AdoptRefusal(
      `${node} has no ${ADMIN_CONF}: adopt reads the cluster as a control plane's admin; point --control-plane at a control-plane node that kubeadm init or kubeadm join --control-plane set up`,
    );
  let api: ApiClient;
  try {
    api = await ApiClient.open(target.host, API_PORT, admin);
  } catch (err) {
    throw new AdoptRefusal(`${node}: cannot use ${ADMIN_CONF}: ${(err as Error).message}`);
  }
  try {
    const configMap = async (name: string) =>
      ((await api.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'kube-system', name }))?.data ?? undefined) as
        Record<string, string> | undefined;
    const kubeadmData = await configMap('kubeadm-config').catch((err: unknown) => apiRefusal(err, node));
    if (!kubeadmData)
      throw new AdoptRefusal(
        'the cluster has no kube-system/kubeadm-config ConfigMap: it was not made by kubeadm (kubestrap adopts kubeadm-made clusters only)',
      );
    let kubeadm: KubeadmClusterConfig;
    try {
      kubeadm = readKubeadmConfig(kubeadmData);
    } catch (err) {
      if (err instanceof KubeadmConfigError) throw new AdoptRefusal(`kube-system/${err.message}`);
      throw err;
    }
    if (kubeadm.etcd.kind === 'external') await reachExternalEtcd(target, kubeadm.etcd, node);
    const minor = parseVersion(kubeadm.kubernetesVersion)?.minor;
    if (minor === undefined)
      throw new AdoptRefusal(`kube-system/kubeadm-config: kubernetesVersion ${kubeadm.kubernetesVersion} is not a version`);
    const kubeletText = (await configMap(kubeletConfigMapName(minor)))?.kubelet;
    const kubelet = (kubeletText ? parse(kubeletText) : {}) as { cgroupDriver?: string; serverTLSBootstrap?: boolean };
    const proxyText = (await configMap('kube-proxy'))?.['config.conf'];
    const proxy = proxyText
      ? (parse(proxyText) as { mode?: string; ipvs?: { scheduler?: string }; conntrack?: { maxPerCore?: number | null } })
      : undefined;
    const [daemonSets, deployments, nodes] = await Promise.all(
      ['/apis/apps/v1/daemonsets', '/apis/apps/v1/deployments', '/api/v1/nodes'].map((p) => api.list(p) as Promise<Obj[]>),
    );
    const deployment = (name: string) => deployments!.find((d) => d.metadata.namespace === 'kube-system' && d.metadata.name === name);
    const metricsServer = deployment('metrics-server');
    const manifests = new Map(
      STATIC_POD_COMPONENTS.flatMap((c) => {
        const text = textOf(`${MANIFESTS_DIR}/${c}.yaml`);
        return text ? [[c, parse(text) as Pod] as const] : [];
      }),
    );
    const ca = textOf(CA_CERT);
    const leaf = textOf(`${PKI_DIR}/apiserver.crt`);
    if (!ca || !leaf)
      throw new AdoptRefusal(
        `${node} has no /etc/kubernetes/pki/ca.crt or apiserver.crt: kubestrap adopts control planes whose PKI kubeadm keeps in /etc/kubernetes/pki`,
      );
    return {
      kubeadm,
      kubelet: {
        ...(kubelet.cgroupDriver ? { cgroupDriver: kubelet.cgroupDriver } : {}),
        serverTLSBootstrap: kubelet.serverTLSBootstrap === true,
      },
      ...(proxy
        ? {
            kubeProxy: {
              mode: proxy.mode ?? '',
              ...(proxy.ipvs?.scheduler ? { ipvsScheduler: proxy.ipvs.scheduler } : {}),
              ...(typeof proxy.conntrack?.maxPerCore === 'number' ? { conntrackMaxPerCore: proxy.conntrack.maxPerCore } : {}),
            },
          }
        : {}),
      addons: {
        coreDNS: deployment('coredns') !== undefined,
        kubeProxy: daemonSets!.some((d) => d.metadata.namespace === 'kube-system' && d.metadata.name === 'kube-proxy'),
        metricsServer: metricsServer !== undefined,
        metricsServerInsecureTLS: containerArgs(metricsServer).includes('--kubelet-insecure-tls'),
      },
      cni: cniOf(daemonSets!),
      nodes: nodes!.map(nodeReading),
      manifests,
      pki: {
        keyType: keyType(leaf),
        apiServerSans: [...inspectCertificate(leaf).dnsNames, ...inspectCertificate(leaf).ips],
        caValidityHours: hoursBetween(ca),
      },
      controlPlaneHost: await readHost(target),
    };
  } finally {
    await api.close();
  }
}
