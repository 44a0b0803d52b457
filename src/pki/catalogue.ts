/**
 * kubeadm's certificate and kubeconfig set, as data. Static facts (names, CN, O, usages) are
 * literals; what depends on the cluster or the node (SANs, node names, versions) is a small
 * function of the configuration. kubeadm-spec §2 and §3.
 */
import { isIPv6 } from 'node:net';
import { nthAddress, parseCidr, type Cidr } from '../util/cidr.js';
import type { KubeVersion } from '../util/version.js';
import type { KeyAlgorithm } from './keys.js';
import type { Usage } from './x509.js';
import { KUBEADM_CHANGES } from '../../templates/versions.js';

export type CaName = 'ca' | 'front-proxy-ca' | 'etcd-ca';

export interface ClusterPki {
  readonly version: KubeVersion;
  readonly clusterName: string;
  readonly dnsDomain: string;
  readonly serviceSubnet: Cidr;
  /** host[:port] of the API load balancer / VIP, if any. */
  readonly controlPlaneEndpoint: string | undefined;
  readonly certSANs: readonly string[];
  readonly validityHours: number;
  readonly caValidityHours: number;
  readonly keyAlgorithm: KeyAlgorithm;
  /** etcd runs outside the control planes (etcd.external): its CA and certificates are not kubestrap's. */
  readonly externalEtcd: boolean;
}

export interface NodePki {
  readonly nodeName: string;
  readonly advertiseAddress: string;
  readonly bindPort: number;
}

export interface CertSpec {
  /** kubeadm's phase name, used by `certs renew NAME`. */
  readonly name: string;
  /** Path below the pki directory, without .crt/.key. */
  readonly file: string;
  /** The CA that signs it; undefined for a CA. */
  readonly ca: CaName | undefined;
  readonly commonName: (c: ClusterPki, n: NodePki) => string;
  readonly organizations: (c: ClusterPki) => readonly string[];
  readonly usages: readonly Usage[];
  readonly sans: (c: ClusterPki, n: NodePki) => readonly string[];
}

/** kubeadm 1.29 moved admin identities from system:masters to the kubeadm:cluster-admins group. */
const adminGroup = (c: ClusterPki) => (KUBEADM_CHANGES.clusterAdminsGroup(c.version) ? 'kubeadm:cluster-admins' : 'system:masters');
const none = () => [] as const;

function dedupe(dns: readonly string[], ips: readonly string[]): string[] {
  return [...[...new Set(dns.map((d) => d.toLowerCase()))].sort(), ...new Set(ips.map((i) => i.toLowerCase()))];
}

/** Splits host[:port] (IPv6 in brackets). */
export function splitEndpoint(endpoint: string, defaultPort: number): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(endpoint);
  return { host: (m?.[1] ?? endpoint).replace(/^\[|\]$/g, ''), port: m?.[2] ? Number(m[2]) : defaultPort };
}

const isIPAddress = (s: string) => /^[0-9.]+$/.test(s) || s.includes(':');

export function apiServerSans(c: ClusterPki, n: NodePki): string[] {
  const dns = [n.nodeName, 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${c.dnsDomain}`];
  const ips = [nthAddress(c.serviceSubnet, 1), n.advertiseAddress];
  if (c.controlPlaneEndpoint) {
    const { host } = splitEndpoint(c.controlPlaneEndpoint, n.bindPort);
    (isIPAddress(host) ? ips : dns).push(host);
  }
  for (const san of c.certSANs) (isIPAddress(san) ? ips : dns).push(san);
  return dedupe(dns, ips);
}

function etcdSans(_c: ClusterPki, n: NodePki): string[] {
  return dedupe([n.nodeName, 'localhost'], [n.advertiseAddress, '127.0.0.1', '::1']);
}

export const CERTIFICATES: readonly CertSpec[] = [
  { name: 'ca', file: 'ca', ca: undefined, commonName: () => 'kubernetes', organizations: none, usages: [], sans: () => ['kubernetes'] },
  {
    name: 'apiserver',
    file: 'apiserver',
    ca: 'ca',
    commonName: () => 'kube-apiserver',
    organizations: none,
    usages: ['server'],
    sans: apiServerSans,
  },
  {
    name: 'apiserver-kubelet-client',
    file: 'apiserver-kubelet-client',
    ca: 'ca',
    commonName: () => 'kube-apiserver-kubelet-client',
    // from the releases that bind this user to system:kubelet-api-admin, no group at all (#138957)
    organizations: (c) => (KUBEADM_CHANGES.apiServerKubeletClientBinding(c.version) ? [] : [adminGroup(c)]),
    usages: ['client'],
    sans: none,
  },
  {
    name: 'front-proxy-ca',
    file: 'front-proxy-ca',
    ca: undefined,
    commonName: () => 'front-proxy-ca',
    organizations: none,
    usages: [],
    sans: () => ['front-proxy-ca'],
  },
  {
    name: 'front-proxy-client',
    file: 'front-proxy-client',
    ca: 'front-proxy-ca',
    commonName: () => 'front-proxy-client',
    organizations: none,
    usages: ['client'],
    sans: none,
  },
  {
    name: 'etcd-ca',
    file: 'etcd/ca',
    ca: undefined,
    commonName: () => 'etcd-ca',
    organizations: none,
    usages: [],
    sans: () => ['etcd-ca'],
  },
  {
    name: 'etcd-server',
    file: 'etcd/server',
    ca: 'etcd-ca',
    commonName: (_c, n) => n.nodeName,
    organizations: none,
    usages: ['server', 'client'],
    sans: etcdSans,
  },
  {
    name: 'etcd-peer',
    file: 'etcd/peer',
    ca: 'etcd-ca',
    commonName: (_c, n) => n.nodeName,
    organizations: none,
    usages: ['server', 'client'],
    sans: etcdSans,
  },
  {
    name: 'etcd-healthcheck-client',
    file: 'etcd/healthcheck-client',
    ca: 'etcd-ca',
    commonName: () => 'kube-etcd-healthcheck-client',
    // a health check needs no admin group
    organizations: (c) => (KUBEADM_CHANGES.etcdHealthcheckClientNoMasters(c.version) ? [] : ['system:masters']),
    usages: ['client'],
    sans: none,
  },
  {
    name: 'apiserver-etcd-client',
    file: 'apiserver-etcd-client',
    ca: 'etcd-ca',
    commonName: () => 'kube-apiserver-etcd-client',
    organizations: (c) => (KUBEADM_CHANGES.apiServerEtcdClientNoMasters(c.version) ? [] : ['system:masters']),
    usages: ['client'],
    sans: none,
  },
];

/** The certificates of this cluster: with an external etcd, none of etcd's CA (kubeadm's certs phase skips them too). */
export const certificatesFor = (c: ClusterPki): readonly CertSpec[] =>
  c.externalEtcd ? CERTIFICATES.filter((spec) => spec.name !== 'etcd-ca' && spec.ca !== 'etcd-ca') : CERTIFICATES;

export const CA_FILES: Record<CaName, string> = { ca: 'ca', 'front-proxy-ca': 'front-proxy-ca', 'etcd-ca': 'etcd/ca' };

export interface KubeconfigSpec {
  readonly file: string;
  readonly clientName: (n: NodePki) => string;
  readonly organizations: (c: ClusterPki) => readonly string[];
  /** endpoint: the control-plane endpoint; local: this node's API server. */
  readonly server: (c: ClusterPki) => 'endpoint' | 'local';
  /** The releases that write it. */
  readonly since: (v: Pick<KubeVersion, 'minor'>) => boolean;
}

const always = () => true;

export const KUBECONFIGS: readonly KubeconfigSpec[] = [
  {
    file: 'admin.conf',
    clientName: () => 'kubernetes-admin',
    organizations: (c) => [adminGroup(c)],
    server: () => 'endpoint',
    since: always,
  },
  {
    file: 'super-admin.conf',
    clientName: () => 'kubernetes-super-admin',
    organizations: () => ['system:masters'],
    server: () => 'endpoint',
    since: KUBEADM_CHANGES.clusterAdminsGroup,
  },
  // a control plane's kubelet talks to its own API server (ControlPlaneKubeletLocalMode)
  {
    file: 'kubelet.conf',
    clientName: (n) => `system:node:${n.nodeName}`,
    organizations: () => ['system:nodes'],
    server: (c) => (KUBEADM_CHANGES.controlPlaneKubeletLocal(c.version) ? 'local' : 'endpoint'),
    since: always,
  },
  {
    file: 'controller-manager.conf',
    clientName: () => 'system:kube-controller-manager',
    organizations: none,
    server: () => 'local',
    since: always,
  },
  { file: 'scheduler.conf', clientName: () => 'system:kube-scheduler', organizations: none, server: () => 'local', since: always },
];

export function kubeconfigsFor(c: ClusterPki): KubeconfigSpec[] {
  return KUBECONFIGS.filter((k) => k.since(c.version));
}

const hostForUrl = (h: string) => (isIPv6(h) ? `[${h}]` : h);

export function serverUrl(c: ClusterPki, n: NodePki, which: 'endpoint' | 'local'): string {
  if (which === 'endpoint' && c.controlPlaneEndpoint) {
    const { host, port } = splitEndpoint(c.controlPlaneEndpoint, n.bindPort);
    return `https://${hostForUrl(host)}:${port}`;
  }
  return `https://${hostForUrl(n.advertiseAddress)}:${n.bindPort}`;
}

export function parseServiceSubnet(text: string): Cidr {
  const c = parseCidr(text);
  if (typeof c === 'string') throw new Error(c);
  return c;
}
