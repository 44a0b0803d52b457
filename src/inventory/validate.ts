/**
 * Cross-field rules of an inventory that a per-field schema cannot express: uniqueness across
 * hosts, network overlaps, role requirements, readable key files. Runs before any host is touched.
 */
import { access, constants } from 'node:fs/promises';
import { isIP } from 'node:net';
import { cidrContains, cidrsOverlap, cidrSize, parseCidr, parseIp, type Cidr } from '../util/cidr.js';
import { durationHours } from '../util/duration.js';
import { parseImageRef } from '../util/image-ref.js';
import { expandHome } from '../util/paths.js';
import { parseVersion, supportProblem } from '../util/version.js';
import { REMOVED_KUBELET_FLAGS } from '../../templates/versions.js';
import type { FieldPath } from './issues.js';
import { API_VERSION, KIND, type AuthSpec, type Inventory } from './schema.js';

export interface Problem {
  readonly path: FieldPath;
  readonly message: string;
}

const DNS_NAME = /^[a-z0-9*]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/i;

const MAX_VALIDITY_HOURS = 100 * 365 * 24;
/** Far beyond any real cluster, and a bound on what one file can make kubestrap hold. */
export const MAX_HOSTS = 5000;

/** Smallest IPv4 service subnet that still holds the API (1st) and DNS (10th) service IPs. */
const SERVICE_PREFIX_MAX_V4 = 28;
/** The API server refuses IPv4 service ranges larger than /12 (and IPv6 larger than /108). */
const SERVICE_PREFIX_MIN = { 4: 12, 6: 108 } as const;
/** Each node gets a /24 (IPv4) or /64 (IPv6) of the pod subnet, the controller-manager default. */
const NODE_CIDR_PREFIX = { 4: 24, 6: 64 } as const;

async function checkAuth(auth: AuthSpec | undefined, path: FieldPath, out: Problem[], checkKeyFiles: boolean): Promise<void> {
  if (!auth) return;
  const methods = [auth.keyPath !== undefined && 'keyPath', auth.agent && 'agent', auth.passwordEnv !== undefined && 'passwordEnv'].filter(
    Boolean,
  );
  if (methods.length > 1) out.push({ path, message: `choose one login method, not ${methods.join(' and ')}` });
  if (methods.length === 0) out.push({ path, message: 'set one of keyPath, agent: true or passwordEnv' });
  if ((auth.passphraseEnv || auth.passphrasePrompt) && auth.keyPath === undefined) {
    out.push({
      path: [...path, auth.passphraseEnv ? 'passphraseEnv' : 'passphrasePrompt'],
      message: 'a passphrase only applies to keyPath',
    });
  }
  if (auth.passphraseEnv && auth.passphrasePrompt) {
    out.push({ path: [...path, 'passphrasePrompt'], message: 'use passphraseEnv or passphrasePrompt, not both' });
  }
  if (auth.keyPath !== undefined && checkKeyFiles) {
    try {
      await access(expandHome(auth.keyPath), constants.R_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      out.push({
        path: [...path, 'keyPath'],
        message: `cannot read key file ${auth.keyPath}: ${code === 'ENOENT' ? 'no such file' : (code ?? String(err))}`,
      });
    }
  }
}

function checkNetworks(inv: Inventory, out: Problem[]): void {
  const net = inv.cluster.networking;
  const pathOf = (field: string): FieldPath => ['cluster', 'networking', field];
  const parsed = (field: 'podSubnet' | 'serviceSubnet'): Cidr | undefined => {
    const result = parseCidr(net[field]);
    if (typeof result === 'string') {
      out.push({ path: pathOf(field), message: result });
      return undefined;
    }
    return result;
  };
  const pod = parsed('podSubnet');
  const service = parsed('serviceSubnet');
  if (service) {
    if (service.prefix < SERVICE_PREFIX_MIN[service.family]) {
      out.push({
        path: pathOf('serviceSubnet'),
        message: `${service.text} is too large: the API server accepts at most /${SERVICE_PREFIX_MIN[service.family]}`,
      });
    } else if (service.family === 4 && service.prefix > SERVICE_PREFIX_MAX_V4) {
      out.push({
        path: pathOf('serviceSubnet'),
        message: `${service.text} is too small: it needs at least 16 addresses (prefix /${SERVICE_PREFIX_MAX_V4} or shorter) for the API and DNS service IPs plus services`,
      });
    }
  }
  if (pod) {
    const nodePrefix = NODE_CIDR_PREFIX[pod.family];
    if (pod.prefix > nodePrefix) {
      out.push({ path: pathOf('podSubnet'), message: `${pod.text} is too small: every node needs a /${nodePrefix} from it` });
    } else if (BigInt(inv.hosts.length) > cidrSize(pod) / (1n << BigInt((pod.family === 4 ? 32 : 128) - nodePrefix))) {
      out.push({
        path: pathOf('podSubnet'),
        message: `${pod.text} holds fewer /${nodePrefix} node ranges than the ${inv.hosts.length} hosts need`,
      });
    }
  }
  if (pod && service && cidrsOverlap(pod, service)) {
    out.push({ path: pathOf('serviceSubnet'), message: `${service.text} overlaps the pod subnet ${pod.text}` });
  }
  inv.hosts.forEach((host, i) => {
    for (const field of ['address', 'advertiseAddress'] as const) {
      const value = host[field];
      const ip = value === undefined ? undefined : parseIp(value);
      if (!ip) continue;
      for (const [name, subnet] of [
        ['pod subnet', pod],
        ['service subnet', service],
      ] as const) {
        if (subnet && cidrContains(subnet, ip)) {
          out.push({
            path: ['hosts', i, field],
            message: `${value} lies inside the ${name} ${subnet.text}; host and cluster networks must not overlap`,
          });
        }
      }
    }
  });
}

function checkHosts(inv: Inventory, out: Problem[]): void {
  const firstBy = new Map<string, number>();
  const unique = (kind: string, key: string, i: number, path: FieldPath, shown: string) => {
    const id = `${kind}\0${key}`;
    const first = firstBy.get(id);
    if (first === undefined) firstBy.set(id, i);
    else out.push({ path, message: `duplicate ${kind} ${shown} (also used by hosts[${first}] ${inv.hosts[first]!.name})` });
  };
  inv.hosts.forEach((host, i) => {
    const port = host.port ?? inv.hostDefaults.port ?? 22;
    unique('host name', host.name, i, ['hosts', i, 'name'], host.name);
    unique('address', `${host.address}:${port}`, i, ['hosts', i, 'address'], port === 22 ? host.address : `${host.address}:${port}`);
    if (host.advertiseAddress !== undefined && !isIP(host.advertiseAddress)) {
      out.push({ path: ['hosts', i, 'advertiseAddress'], message: `${JSON.stringify(host.advertiseAddress)} is not an IP address` });
    }
    if (host.advertiseAddress === undefined && !isIP(host.address) && host.roles.includes('control-plane')) {
      out.push({
        path: ['hosts', i, 'advertiseAddress'],
        message: 'required when address is a DNS name: the API server and etcd advertise an IP',
      });
    }
    const roles = new Set(host.roles);
    if (roles.size !== host.roles.length) out.push({ path: ['hosts', i, 'roles'], message: 'a role is listed twice' });
    if (host.sudo?.mode === 'password' && !host.sudo.passwordEnv) {
      out.push({ path: ['hosts', i, 'sudo', 'passwordEnv'], message: 'required with mode: password' });
    }
    if (host.sudo && host.sudo.mode !== 'password' && host.sudo.passwordEnv) {
      out.push({ path: ['hosts', i, 'sudo', 'passwordEnv'], message: 'only used with mode: password' });
    }
    // a root login has no sudo password to give: sending one anyway only risks it reaching a command's input
    // (a login left to ~/.ssh/config is known only when connecting; root there gets no password either)
    const sudo = host.sudo ?? inv.hostDefaults.sudo;
    if ((host.user ?? inv.hostDefaults.user) === 'root' && sudo?.mode === 'password') {
      out.push({
        path: host.sudo ? ['hosts', i, 'sudo', 'mode'] : ['hostDefaults', 'sudo', 'mode'],
        message: `${host.name} logs in as root, which needs no sudo password: use sudo.mode: none (or leave sudo out)`,
      });
    }
  });
  checkDerivedIdentities(inv, out);
  const controlPlanes = inv.hosts.filter((h) => h.roles.includes('control-plane'));
  if (controlPlanes.length === 0) {
    out.push({ path: ['hosts'], message: 'no host has the control-plane role; at least one is required' });
  }
  const nodeLocal = inv.cluster.apiLoadBalancer.mode === 'node-local';
  if (controlPlanes.length > 1 && !inv.cluster.controlPlaneEndpoint && !nodeLocal) {
    out.push({
      path: ['cluster', 'controlPlaneEndpoint'],
      message: `required with ${controlPlanes.length} control planes (a load balancer or VIP in front of all API servers), unless apiLoadBalancer.mode is node-local`,
    });
  }
  if (nodeLocal && inv.cluster.controlPlaneEndpoint) {
    out.push({
      path: ['cluster', 'controlPlaneEndpoint'],
      message: `leave it unset with apiLoadBalancer.mode node-local: the endpoint is then ${inv.cluster.apiLoadBalancer.domain}:6443 on every node`,
    });
  }
}

/**
 * Node names and advertise addresses default to the host name and address; a clash is only
 * reported here when one side was set explicitly (plain duplicates are reported as such above).
 */
function checkDerivedIdentities(inv: Inventory, out: Problem[]): void {
  const derived = [
    { kind: 'node name', field: 'nodeName', value: (h: Inventory['hosts'][number]) => h.nodeName ?? h.name },
    { kind: 'advertise address', field: 'advertiseAddress', value: (h: Inventory['hosts'][number]) => h.advertiseAddress ?? h.address },
  ] as const;
  for (const { kind, field, value } of derived) {
    const first = new Map<string, number>();
    inv.hosts.forEach((host, i) => {
      const v = value(host);
      const j = first.get(v);
      if (j === undefined) first.set(v, i);
      else if (host[field] !== undefined || inv.hosts[j]![field] !== undefined) {
        out.push({
          path: ['hosts', i, host[field] !== undefined ? field : field === 'nodeName' ? 'name' : 'address'],
          message: `duplicate ${kind} ${v} (also used by hosts[${j}] ${inv.hosts[j]!.name})`,
        });
      }
    });
  }
}

function checkCluster(inv: Inventory, out: Problem[]): void {
  const c = inv.cluster;
  const images: Array<[FieldPath, string | undefined]> = [
    [['cluster', 'containerRuntime', 'sandboxImage'], c.containerRuntime.sandboxImage],
    [['cluster', 'airgap', 'registry', 'image'], c.airgap.registry?.image],
  ];
  for (const [path, image] of images) {
    try {
      if (image !== undefined) parseImageRef(image);
    } catch (err) {
      out.push({ path, message: (err as Error).message });
    }
  }
  const version = parseVersion(c.kubernetesVersion);
  const versionProblem = version ? supportProblem(version) : `${JSON.stringify(c.kubernetesVersion)} is not a version`;
  if (versionProblem) out.push({ path: ['cluster', 'kubernetesVersion'], message: versionProblem });
  if (c.controlPlaneEndpoint !== undefined) {
    const m = /^(\[[0-9a-fA-F:]+\]|[^:[\]]+)(?::(\d+))?$/.exec(c.controlPlaneEndpoint);
    const host = m?.[1]?.replace(/^\[|\]$/g, '');
    const port = m?.[2] === undefined ? 6443 : Number(m[2]);
    if (!m || !host || !(isIP(host) || DNS_NAME.test(host)) || port < 1 || port > 65535) {
      out.push({ path: ['cluster', 'controlPlaneEndpoint'], message: `${JSON.stringify(c.controlPlaneEndpoint)} is not host[:port]` });
    }
  }
  c.certificates.certSANs.forEach((san, i) => {
    if (!isIP(san) && !DNS_NAME.test(san))
      out.push({ path: ['cluster', 'certificates', 'certSANs', i], message: `${JSON.stringify(san)} is neither an IP nor a DNS name` });
  });
  const leaf = durationHours(c.certificates.validity);
  const ca = durationHours(c.certificates.caValidity);
  if (!(leaf > 0)) out.push({ path: ['cluster', 'certificates', 'validity'], message: 'must be longer than zero' });
  // X.509 dates end in 9999 and tools choke long before: a century is more than any CA needs
  for (const [field, hours] of [
    ['validity', leaf],
    ['caValidity', ca],
  ] as const) {
    if (hours > MAX_VALIDITY_HOURS)
      out.push({ path: ['cluster', 'certificates', field], message: `at most ${MAX_VALIDITY_HOURS}h (100 years)` });
  }
  if (leaf > ca)
    out.push({
      path: ['cluster', 'certificates', 'validity'],
      message: `leaf validity ${c.certificates.validity} outlasts the CA validity ${c.certificates.caValidity}`,
    });
  if (c.packages.source === 'mirror' && !c.packages.mirror)
    out.push({ path: ['cluster', 'packages', 'mirror'], message: 'required with source: mirror' });
  // over http a network attacker supplies the packages and the key that would vouch for them
  if (c.packages.mirror?.startsWith('http://') && !c.packages.unsigned)
    out.push({
      path: ['cluster', 'packages', 'mirror'],
      message: 'is plain http: use https, or say unsigned: true for an internal mirror you trust as is',
    });
  // Docker's signing key is fetched from the repository itself: over http both could be anyone's
  if (c.containerRuntime.dockerRepository?.startsWith('http://'))
    out.push({
      path: ['cluster', 'containerRuntime', 'dockerRepository'],
      message:
        "is plain http: containerd and the key that vouches for it would both come unauthenticated; use https (or the distribution's containerd, source: distro)",
    });
  if (c.packages.source === 'offline' && !c.packages.offlineDir)
    out.push({ path: ['cluster', 'packages', 'offlineDir'], message: 'required with source: offline' });
  if (c.cni.plugin === 'calico') {
    if (!c.cni.calicoManifest)
      out.push({ path: ['cluster', 'cni', 'calicoManifest'], message: 'required with plugin: calico (a pinned URL or a local file)' });
    else if (/^https?:\/\//.test(c.cni.calicoManifest) && !c.cni.calicoManifestSha256) {
      out.push({
        path: ['cluster', 'cni', 'calicoManifestSha256'],
        message: 'required for a downloaded manifest, so that what is installed is what was reviewed',
      });
    }
  }
  const site = c.airgap.registry;
  if (site && !inv.hosts.some((h) => h.name === site.host))
    out.push({ path: ['cluster', 'airgap', 'registry', 'host'], message: `${JSON.stringify(site.host)} is not a host of this inventory` });
  for (const name of ['apiServer', 'controllerManager', 'scheduler', 'etcd'] as const) {
    for (const flag of Object.keys(c[name].extraArgs)) {
      if (flag.startsWith('-'))
        out.push({ path: ['cluster', name, 'extraArgs', flag], message: 'write flag names without leading dashes' });
    }
  }
  if (c.etcd.external) {
    // these configure the etcd static pod, which an external etcd replaces: kubeadm refuses local and external together
    const local = {
      imageTag: c.etcd.imageTag !== undefined,
      extraArgs: Object.keys(c.etcd.extraArgs).length > 0,
      extraVolumes: c.etcd.extraVolumes.length > 0,
      extraEnvs: c.etcd.extraEnvs.length > 0,
    };
    for (const [field, set] of Object.entries(local)) {
      if (set)
        out.push({
          path: ['cluster', 'etcd', field],
          message: 'configures the etcd static pod, which etcd.external replaces: remove one or the other',
        });
    }
  }
  for (const removed of REMOVED_KUBELET_FLAGS) {
    if (version && version.minor >= removed.minor && removed.flag in c.kubelet.extraArgs) {
      out.push({
        path: ['cluster', 'kubelet', 'extraArgs', removed.flag],
        message: `--${removed.flag} was ${removed.why}: the ${version.text} kubelet would not start with it`,
      });
    }
  }
}

export interface ValidateOptions {
  /** Whether SSH key files must be readable (not for commands that touch no host). */
  readonly checkKeyFiles?: boolean;
}

export async function validateInventory(inv: Inventory, options: ValidateOptions = {}): Promise<Problem[]> {
  const keys = options.checkKeyFiles ?? true;
  const out: Problem[] = [];
  if (inv.apiVersion !== API_VERSION)
    out.push({ path: ['apiVersion'], message: `must be ${API_VERSION}, got ${JSON.stringify(inv.apiVersion)}` });
  if (inv.kind !== KIND) out.push({ path: ['kind'], message: `must be ${KIND}, got ${JSON.stringify(inv.kind)}` });
  if (inv.hosts.length > MAX_HOSTS)
    out.push({ path: ['hosts'], message: `${inv.hosts.length} hosts; kubestrap handles at most ${MAX_HOSTS} in one inventory` });
  checkHosts(inv, out);
  checkNetworks(inv, out);
  checkCluster(inv, out);
  await checkAuth(inv.hostDefaults.auth, ['hostDefaults', 'auth'], out, keys);
  await checkAuth(inv.hostDefaults.bastion?.auth, ['hostDefaults', 'bastion', 'auth'], out, keys);
  for (const [i, host] of inv.hosts.entries()) {
    await checkAuth(host.auth, ['hosts', i, 'auth'], out, keys);
    await checkAuth(host.bastion?.auth, ['hosts', i, 'bastion', 'auth'], out, keys);
  }
  return out;
}
