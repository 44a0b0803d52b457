/**
 * What `kubestrap init` asks, as data: typed answers (from the terminal, flags or an answers
 * file) and the inventory they make. The answers file uses the same keys.
 */
import { parse } from 'yaml';
import { cidrContains, cidrsOverlap, parseCidr, parseIp } from '../util/cidr.js';
import { DEFAULT_KUBERNETES_VERSION, parseVersion, supportProblem } from '../util/version.js';

export interface HostAnswer {
  readonly name: string;
  readonly address: string;
  readonly port?: number;
  readonly user: string;
  readonly auth: { readonly keyPath: string } | { readonly agent: true } | { readonly passwordEnv: string };
  readonly sudo?: { readonly mode: 'passwordless' } | { readonly mode: 'password'; readonly passwordEnv: string };
  readonly roles: ReadonlyArray<'control-plane' | 'worker'>;
  /** SHA256 fingerprint the operator trusted. */
  readonly hostKey?: string;
  /** Seen on the host when it was checked (not written to the inventory). */
  readonly cgroupV1?: boolean;
}

export type MirrorProfile = 'upstream' | 'china' | 'custom';

export interface Answers {
  readonly clusterName: string;
  readonly kubernetesVersion: string;
  readonly hosts: readonly HostAnswer[];
  readonly controlPlaneEndpoint?: string;
  readonly podSubnet: string;
  readonly serviceSubnet: string;
  readonly kubeProxyMode: 'ipvs' | 'iptables' | 'nftables';
  readonly cni: 'flannel' | 'calico' | 'none';
  readonly mirrorProfile: MirrorProfile;
  /** For the custom profile. */
  readonly imageRepository?: string;
  readonly packageMirror?: string;
  readonly cgroupDriver: 'systemd' | 'cgroupfs';
  /** Keep cgroup v1 hosts running on Kubernetes 1.35+ (kubelet failCgroupV1: false). */
  readonly keepCgroupV1?: boolean;
}

/** Offered by the wizard, newest first (the first is the default: DEFAULT_KUBERNETES_VERSION). */
export const SUPPORTED_VERSIONS = [
  DEFAULT_KUBERNETES_VERSION,
  'v1.36.1',
  'v1.35.5',
  'v1.34.8',
  'v1.33.12',
  'v1.32.12',
  'v1.31.9',
  'v1.30.13',
  'v1.29.15',
  'v1.28.15',
  'v1.23.17',
  'v1.20.2',
] as const;

export const DEFAULTS = {
  clusterName: 'kubernetes',
  kubernetesVersion: SUPPORTED_VERSIONS[0],
  podSubnet: '10.244.0.0/16',
  serviceSubnet: '10.96.0.0/12',
  kubeProxyMode: 'ipvs',
  cni: 'flannel',
  mirrorProfile: 'upstream',
  cgroupDriver: 'systemd',
} as const;

/** The China mirror profile most runbooks use when registry.k8s.io is blocked. */
export const CHINA_PROFILE = {
  imageRepository: 'registry.cn-hangzhou.aliyuncs.com/google_containers',
  packageMirror: 'https://mirrors.aliyun.com/kubernetes-new',
} as const;

/** One check per answer, reused by the prompts (re-ask with the reason) and the answers file. */
export const checks = {
  address(value: string): string | undefined {
    if (parseIp(value)) return undefined;
    if (/^[\d.]+$/.test(value)) return `${JSON.stringify(value)} is not a valid IP address`;
    return /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/i.test(value) ? undefined : `${JSON.stringify(value)} is not an IP address or host name`;
  },
  version(value: string): string | undefined {
    const v = parseVersion(value);
    return v ? supportProblem(v) : `${JSON.stringify(value)} is not a version like v1.30.13`;
  },
  cidr(value: string): string | undefined {
    const c = parseCidr(value);
    return typeof c === 'string' ? c : undefined;
  },
  /** A subnet that no host address falls into. */
  clearOfHosts(cidr: string, addresses: readonly string[]): string | undefined {
    const c = parseCidr(cidr);
    if (typeof c === 'string') return c;
    const inside = addresses.find((a) => {
      const ip = parseIp(a);
      return ip !== undefined && cidrContains(c, ip);
    });
    return inside ? `host address ${inside} lies inside ${cidr}` : undefined;
  },
  /** The service subnet against the pod subnet and every host address. */
  networks(pod: string, service: string, addresses: readonly string[]): string | undefined {
    const p = parseCidr(pod);
    const s = parseCidr(service);
    if (typeof p === 'string' || typeof s === 'string') return typeof p === 'string' ? p : (s as string);
    if (cidrsOverlap(p, s)) return `${service} overlaps the pod subnet ${pod}`;
    for (const a of addresses) {
      const ip = parseIp(a);
      if (ip && (cidrContains(p, ip) || cidrContains(s, ip)))
        return `host address ${a} lies inside ${cidrContains(p, ip) ? `the pod subnet ${pod}` : `the service subnet ${service}`}`;
    }
    return undefined;
  },
};

/** The inventory object (kubestrap.dev/v1alpha1) for the answers. */
export function inventoryFor(a: Answers): Record<string, unknown> {
  const mirrors =
    a.mirrorProfile === 'china'
      ? CHINA_PROFILE
      : a.mirrorProfile === 'custom'
        ? { imageRepository: a.imageRepository, packageMirror: a.packageMirror }
        : undefined;
  return {
    apiVersion: 'kubestrap.dev/v1alpha1',
    kind: 'Cluster',
    hosts: a.hosts.map((h) => ({
      name: h.name,
      address: h.address,
      ...(h.port && h.port !== 22 ? { port: h.port } : {}),
      user: h.user,
      auth: h.auth,
      ...(h.sudo ? { sudo: h.sudo } : {}),
      ...(h.hostKey ? { hostKey: h.hostKey } : {}),
      roles: [...h.roles],
    })),
    cluster: {
      name: a.clusterName,
      kubernetesVersion: a.kubernetesVersion,
      ...(a.controlPlaneEndpoint ? { controlPlaneEndpoint: a.controlPlaneEndpoint } : {}),
      networking: { podSubnet: a.podSubnet, serviceSubnet: a.serviceSubnet },
      ...(mirrors?.imageRepository ? { imageRepository: mirrors.imageRepository } : {}),
      ...(mirrors?.packageMirror ? { packages: { source: 'mirror', mirror: mirrors.packageMirror } } : {}),
      containerRuntime: { cgroupDriver: a.cgroupDriver },
      kubeProxy: { mode: a.kubeProxyMode },
      cni: { plugin: a.cni },
      ...(a.keepCgroupV1 ? { kubelet: { failCgroupV1: false } } : {}),
    },
  };
}

/** Reads an answers file (YAML with the keys of Answers); missing keys take the defaults. */
export function parseAnswers(text: string): Answers {
  const raw = (parse(text) ?? {}) as Partial<Answers>;
  return { ...DEFAULTS, ...raw, hosts: raw.hosts ?? [] };
}
