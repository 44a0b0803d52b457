/**
 * The control plane's static pods (etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler) as typed Pod values, the way kubeadm writes them: flags `--name=value` merged
 * with the user's extraArgs and sorted, probes, hostPath volumes sorted by name, requests,
 * annotations, priority class. Pure: everything about the node comes in through the input.
 *
 * Version differences (kubeadm-spec §4 gives 1.30+; the 1.20 shape was checked against the
 * reference kubeadm 1.20.2's own output, test/unit/control-plane-kubeadm.test.ts; the cut-over
 * releases in between are the best known ones and named here):
 * - kube-apiserver --insecure-port=0 and KCM/scheduler --port=0 until 1.23 (flags gone in 1.24);
 * - etcd probes: /health until 1.21; /health?exclude=NOSPACE&serializable=true (startup
 *   /health?serializable=false) 1.22–1.30; /livez + /readyz from 1.31;
 * - etcd ephemeral-storage request until 1.22; corrupt-check and watch-progress flags from 1.24;
 * - seccompProfile RuntimeDefault and the numeric priority from 1.24;
 * - the cut-overs from 1.32 on are KUBEADM_CHANGES in versions.ts (scheduler /livez + /readyz,
 *   named probe-port, no flex-volume mount, user extraArgs unsorted); etcd's flags follow the
 *   etcd image (3.6 renamed them, 3.7 refuses the old names).
 */
import { stringify } from 'yaml';
import type { Pod, Container, Probe, Volume, VolumeMount, EnvVar } from './objects.js';
import { etcdStableFlags, KUBEADM_CHANGES } from './versions.js';
import { CONTROLLER_MANAGER_CONF, PKI_DIR, SCHEDULER_CONF } from './paths.js';

export const ETCD_DATA_DIR = '/var/lib/etcd';
const FLEXVOLUME_DIR = '/usr/libexec/kubernetes/kubelet-plugins/volume/exec';
/** CA bundle directories mounted into kube-apiserver and KCM when the node has them. */
export const OPTIONAL_CA_DIRS = [
  '/etc/ca-certificates',
  '/usr/share/ca-certificates',
  '/usr/local/share/ca-certificates',
  '/etc/pki',
] as const;

export interface ComponentSettings {
  readonly extraArgs: Readonly<Record<string, string>>;
  readonly extraVolumes: ReadonlyArray<{ name: string; hostPath: string; mountPath: string; readOnly: boolean; pathType?: string }>;
  readonly extraEnvs: ReadonlyArray<{ name: string; value: string }>;
}

export interface ControlPlaneInput {
  readonly minor: number;
  readonly patch: number;
  readonly kubernetesVersion: string;
  readonly nodeName: string;
  readonly advertiseAddress: string;
  readonly bindPort: number;
  readonly imageRepository: string;
  readonly etcdImageTag: string;
  readonly clusterName: string;
  readonly dnsDomain: string;
  readonly serviceSubnet: string;
  readonly podSubnet?: string;
  /** Of OPTIONAL_CA_DIRS, those present on the node. */
  readonly presentCaDirs: readonly string[];
  readonly apiServer: ComponentSettings;
  readonly controllerManager: ComponentSettings;
  readonly scheduler: ComponentSettings;
  readonly etcd: ComponentSettings;
  /** etcd.external: no etcd pod; the API server reaches these endpoints with these files (paths on the node). */
  readonly externalEtcd?: ExternalEtcd;
  /** For a control plane joining a running etcd cluster: every member (itself included), as etcd listed them after the member was added. */
  readonly etcdInitialCluster?: ReadonlyArray<{ readonly name: string; readonly peerUrl: string }>;
}

export interface ExternalEtcd {
  readonly endpoints: readonly string[];
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export type ComponentName = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler';
/** The static pods of a control plane: etcd's only when etcd is local. */
export type ControlPlanePods = Partial<Record<'etcd', Pod>> & Record<Exclude<ComponentName, 'etcd'>, Pod>;

/**
 * Default flags merged with extraArgs (the same name replaces the default). Older kubeadm sorts
 * the whole list; with `userFirst` (KUBEADM_CHANGES.userArgsUnsorted) the user's flags come
 * first in their own order, then the remaining defaults sorted, as kubeadm's ArgumentsToCommand
 * does since #135400 (order matters for flags such as --service-account-issuer).
 */
export function renderFlags(
  defaults: Readonly<Record<string, string>>,
  extra: Readonly<Record<string, string>>,
  userFirst = false,
): string[] {
  const flag = (name: string, value: string) => `--${name}=${value}`;
  if (!userFirst) {
    const merged = { ...defaults, ...extra };
    return Object.keys(merged)
      .sort()
      .map((name) => flag(name, merged[name]!));
  }
  const kept = Object.keys(defaults)
    .filter((name) => !(name in extra))
    .sort();
  return [...Object.entries(extra).map(([name, value]) => flag(name, value)), ...kept.map((name) => flag(name, defaults[name]!))];
}

/** The flags of one component for this release. */
const flagsFor = (input: ControlPlaneInput, defaults: Readonly<Record<string, string>>, settings: ComponentSettings) =>
  renderFlags(defaults, settings.extraArgs, KUBEADM_CHANGES.userArgsUnsorted(input));

const hostUrl = (ip: string) => (ip.includes(':') ? `[${ip}]` : ip);

interface HostPathVolume {
  readonly name: string;
  readonly path: string;
  readonly type: string;
  readonly readOnly: boolean;
  readonly mountPath?: string;
}

const PROBE_PORT = 'probe-port';

/** A probe of the component's health port: by number, or by the container port's name from 1.34 (#132776). */
function probe(
  input: ControlPlaneInput,
  host: string,
  port: number,
  path: string,
  scheme: 'HTTP' | 'HTTPS',
  kind: 'liveness' | 'readiness' | 'startup',
): Probe {
  const httpGet = { host, path, port: KUBEADM_CHANGES.namedProbePort(input) ? PROBE_PORT : port, scheme };
  if (kind === 'readiness') return { failureThreshold: 3, httpGet, periodSeconds: 1, timeoutSeconds: 15 };
  return { failureThreshold: kind === 'liveness' ? 8 : 24, httpGet, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 15 };
}

/** The named container port the probes use from 1.34. */
function probePorts(input: ControlPlaneInput, port: number): Pick<Container, 'ports'> {
  return KUBEADM_CHANGES.namedProbePort(input) ? { ports: [{ containerPort: port, name: PROBE_PORT, protocol: 'TCP' }] } : {};
}

function pod(
  input: ControlPlaneInput,
  name: ComponentName,
  container: Omit<Container, 'name' | 'imagePullPolicy' | 'volumeMounts'>,
  volumes: readonly HostPathVolume[],
  settings: ComponentSettings,
  annotations?: Record<string, string>,
): Pod {
  const all: HostPathVolume[] = [
    ...volumes,
    ...settings.extraVolumes.map((v) => ({
      name: v.name,
      path: v.hostPath,
      mountPath: v.mountPath,
      readOnly: v.readOnly,
      type: v.pathType ?? 'DirectoryOrCreate',
    })),
  ].sort((a, b) => a.name.localeCompare(b.name));
  const env: EnvVar[] = [...settings.extraEnvs].sort((a, b) => a.name.localeCompare(b.name));
  // kubeadm sorts volumes by name, and the mounts too, except etcd's (data, then certificates)
  const mountOrder = name === 'etcd' ? [...volumes, ...all.filter((v) => !volumes.includes(v))] : all;
  const volumeMounts: VolumeMount[] = mountOrder.map((v) => ({
    mountPath: v.mountPath ?? v.path,
    name: v.name,
    ...(v.readOnly ? { readOnly: true } : {}),
  }));
  const podVolumes: Volume[] = all.map((v) => ({ hostPath: { path: v.path, type: v.type }, name: v.name }));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...(annotations ? { annotations } : {}),
      labels: { component: name, tier: 'control-plane' },
      name,
      namespace: 'kube-system',
    },
    spec: {
      containers: [{ ...container, ...(env.length ? { env } : {}), imagePullPolicy: 'IfNotPresent', name, volumeMounts }],
      hostNetwork: true,
      ...(KUBEADM_CHANGES.staticPodPriority(input) ? { priority: 2000001000 } : {}),
      priorityClassName: 'system-node-critical',
      ...(KUBEADM_CHANGES.staticPodSeccompRuntimeDefault(input) ? { securityContext: { seccompProfile: { type: 'RuntimeDefault' } } } : {}),
      volumes: podVolumes,
    },
  };
}

function caVolumes(input: ControlPlaneInput): HostPathVolume[] {
  const dirs = input.presentCaDirs.flatMap((dir) =>
    dir === '/etc/pki' && KUBEADM_CHANGES.splitEtcPkiMount(input) ? ['/etc/pki/ca-trust', '/etc/pki/tls/certs'] : [dir],
  );
  return [
    { name: 'ca-certs', path: '/etc/ssl/certs', type: 'DirectoryOrCreate', readOnly: true },
    { name: 'k8s-certs', path: PKI_DIR, type: 'DirectoryOrCreate', readOnly: true },
    ...dirs.map((path) => ({ name: path.slice(1).replaceAll('/', '-'), path, type: 'DirectoryOrCreate', readOnly: true })),
  ];
}

function etcdPod(input: ControlPlaneInput): Pod {
  const adv = hostUrl(input.advertiseAddress);
  const flags: Record<string, string> = {
    'advertise-client-urls': `https://${adv}:2379`,
    'cert-file': `${PKI_DIR}/etcd/server.crt`,
    'client-cert-auth': 'true',
    'data-dir': ETCD_DATA_DIR,
    'initial-advertise-peer-urls': `https://${adv}:2380`,
    'initial-cluster': input.etcdInitialCluster
      ? input.etcdInitialCluster.map((m) => `${m.name}=${m.peerUrl}`).join(',')
      : `${input.nodeName}=https://${adv}:2380`,
    ...(input.etcdInitialCluster ? { 'initial-cluster-state': 'existing' } : {}),
    'key-file': `${PKI_DIR}/etcd/server.key`,
    'listen-client-urls': `https://127.0.0.1:2379,https://${adv}:2379`,
    'listen-metrics-urls': 'http://127.0.0.1:2381',
    'listen-peer-urls': `https://${adv}:2380`,
    name: input.nodeName,
    'peer-cert-file': `${PKI_DIR}/etcd/peer.crt`,
    'peer-client-cert-auth': 'true',
    'peer-key-file': `${PKI_DIR}/etcd/peer.key`,
    'peer-trusted-ca-file': `${PKI_DIR}/etcd/ca.crt`,
    'snapshot-count': '10000',
    'trusted-ca-file': `${PKI_DIR}/etcd/ca.crt`,
    ...(KUBEADM_CHANGES.etcdCorruptCheckFlags(input)
      ? etcdStableFlags(input.etcdImageTag)
        ? { 'feature-gates': 'InitialCorruptCheck=true', 'watch-progress-notify-interval': '5s' }
        : { 'experimental-initial-corrupt-check': 'true', 'experimental-watch-progress-notify-interval': '5s' }
      : {}),
  };
  const at = (path: string, kind: 'liveness' | 'readiness' | 'startup') => probe(input, '127.0.0.1', 2381, path, 'HTTP', kind);
  const probes = KUBEADM_CHANGES.etcdLivezReadyzProbes(input)
    ? { livenessProbe: at('/livez', 'liveness'), readinessProbe: at('/readyz', 'readiness'), startupProbe: at('/readyz', 'startup') }
    : KUBEADM_CHANGES.etcdSerializableProbes(input)
      ? {
          livenessProbe: at('/health?exclude=NOSPACE&serializable=true', 'liveness'),
          startupProbe: at('/health?serializable=false', 'startup'),
        }
      : { livenessProbe: at('/health', 'liveness'), startupProbe: at('/health', 'startup') };
  return pod(
    input,
    'etcd',
    {
      command: ['etcd', ...flagsFor(input, flags, input.etcd)],
      image: `${input.imageRepository}/etcd:${input.etcdImageTag}`,
      ...probePorts(input, 2381),
      ...probes,
      resources: {
        requests: {
          cpu: '100m',
          ...(KUBEADM_CHANGES.noEtcdEphemeralStorage(input) ? {} : { 'ephemeral-storage': '100Mi' }),
          memory: '100Mi',
        },
      },
    },
    [
      { name: 'etcd-data', path: ETCD_DATA_DIR, type: 'DirectoryOrCreate', readOnly: false },
      { name: 'etcd-certs', path: `${PKI_DIR}/etcd`, type: 'DirectoryOrCreate', readOnly: false },
    ],
    input.etcd,
    { 'kubeadm.kubernetes.io/etcd.advertise-client-urls': `https://${adv}:2379` },
  );
}

/** How the API server reaches etcd: the local member with its own client certificate, or the external endpoints with the given files. */
function etcdClientFlags(input: ControlPlaneInput): Record<string, string> {
  const external = input.externalEtcd;
  if (external)
    return {
      'etcd-cafile': external.caFile,
      'etcd-certfile': external.certFile,
      'etcd-keyfile': external.keyFile,
      'etcd-servers': external.endpoints.join(','),
    };
  return {
    'etcd-cafile': `${PKI_DIR}/etcd/ca.crt`,
    'etcd-certfile': `${PKI_DIR}/apiserver-etcd-client.crt`,
    'etcd-keyfile': `${PKI_DIR}/apiserver-etcd-client.key`,
    'etcd-servers': input.advertiseAddress.includes(':') ? 'https://[::1]:2379' : 'https://127.0.0.1:2379',
  };
}

/**
 * The directories of an external etcd's files that the API server does not mount already, as
 * kubeadm's getEtcdCertVolumes picks them: one read-only volume etcd-certs-N per directory (sorted;
 * a directory inside another one is left to its parent), none for a directory that starts with
 * the certificate directory or one of the CA bundle directories (string prefixes, as kubeadm
 * compares them).
 */
function externalEtcdVolumes(input: ControlPlaneInput): HostPathVolume[] {
  const external = input.externalEtcd;
  if (!external) return [];
  const mounted = [
    '/etc/ssl/certs',
    PKI_DIR,
    ...OPTIONAL_CA_DIRS.flatMap((dir) =>
      dir === '/etc/pki' && KUBEADM_CHANGES.splitEtcPkiMount(input) ? ['/etc/pki/ca-trust', '/etc/pki/tls/certs'] : [dir],
    ),
  ];
  const dirs = new Set<string>();
  for (const file of [external.caFile, external.certFile, external.keyFile]) {
    const dir = file.slice(0, file.lastIndexOf('/')) || '/';
    if (mounted.some((m) => dir.startsWith(m))) continue;
    if ([...dirs].some((d) => dir.startsWith(d) && d !== dir)) continue;
    for (const d of dirs) if (d.startsWith(dir)) dirs.delete(d);
    dirs.add(dir);
  }
  return [...dirs].sort().map((path, i) => ({ name: `etcd-certs-${i}`, path, type: 'DirectoryOrCreate', readOnly: true }));
}

function apiServerPod(input: ControlPlaneInput): Pod {
  const adv = input.advertiseAddress;
  const flags: Record<string, string> = {
    'advertise-address': adv,
    'allow-privileged': 'true',
    'authorization-mode': 'Node,RBAC',
    'client-ca-file': `${PKI_DIR}/ca.crt`,
    'enable-admission-plugins': 'NodeRestriction',
    'enable-bootstrap-token-auth': 'true',
    ...etcdClientFlags(input),
    ...(KUBEADM_CHANGES.noApiServerInsecurePort(input) ? {} : { 'insecure-port': '0' }),
    'kubelet-client-certificate': `${PKI_DIR}/apiserver-kubelet-client.crt`,
    'kubelet-client-key': `${PKI_DIR}/apiserver-kubelet-client.key`,
    'kubelet-preferred-address-types': 'InternalIP,ExternalIP,Hostname',
    'proxy-client-cert-file': `${PKI_DIR}/front-proxy-client.crt`,
    'proxy-client-key-file': `${PKI_DIR}/front-proxy-client.key`,
    'requestheader-allowed-names': 'front-proxy-client',
    'requestheader-client-ca-file': `${PKI_DIR}/front-proxy-ca.crt`,
    'requestheader-extra-headers-prefix': 'X-Remote-Extra-',
    'requestheader-group-headers': 'X-Remote-Group',
    'requestheader-username-headers': 'X-Remote-User',
    'secure-port': String(input.bindPort),
    'service-account-issuer': `https://kubernetes.default.svc.${input.dnsDomain}`,
    'service-account-key-file': `${PKI_DIR}/sa.pub`,
    'service-account-signing-key-file': `${PKI_DIR}/sa.key`,
    'service-cluster-ip-range': input.serviceSubnet,
    'tls-cert-file': `${PKI_DIR}/apiserver.crt`,
    'tls-private-key-file': `${PKI_DIR}/apiserver.key`,
  };
  const host = input.apiServer.extraArgs['advertise-address'] ?? adv;
  const port = Number(input.apiServer.extraArgs['secure-port'] ?? input.bindPort);
  return pod(
    input,
    'kube-apiserver',
    {
      command: ['kube-apiserver', ...flagsFor(input, flags, input.apiServer)],
      image: `${input.imageRepository}/kube-apiserver:${input.kubernetesVersion}`,
      livenessProbe: probe(input, host, port, '/livez', 'HTTPS', 'liveness'),
      ...probePorts(input, port),
      readinessProbe: probe(input, host, port, '/readyz', 'HTTPS', 'readiness'),
      resources: { requests: { cpu: '250m' } },
      startupProbe: probe(input, host, port, '/livez', 'HTTPS', 'startup'),
    },
    [...caVolumes(input), ...externalEtcdVolumes(input)],
    input.apiServer,
    { 'kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint': `${hostUrl(adv)}:${input.bindPort}` },
  );
}

function controllerManagerPod(input: ControlPlaneInput): Pod {
  const conf = CONTROLLER_MANAGER_CONF;
  const flags: Record<string, string> = {
    'authentication-kubeconfig': conf,
    'authorization-kubeconfig': conf,
    'bind-address': '127.0.0.1',
    'client-ca-file': `${PKI_DIR}/ca.crt`,
    'cluster-name': input.clusterName,
    'cluster-signing-cert-file': `${PKI_DIR}/ca.crt`,
    'cluster-signing-key-file': `${PKI_DIR}/ca.key`,
    controllers: '*,bootstrapsigner,tokencleaner',
    kubeconfig: conf,
    'leader-elect': 'true',
    ...(KUBEADM_CHANGES.noComponentInsecurePort(input) ? {} : { port: '0' }),
    'requestheader-client-ca-file': `${PKI_DIR}/front-proxy-ca.crt`,
    'root-ca-file': `${PKI_DIR}/ca.crt`,
    'service-account-private-key-file': `${PKI_DIR}/sa.key`,
    'use-service-account-credentials': 'true',
    ...(input.podSubnet
      ? { 'allocate-node-cidrs': 'true', 'cluster-cidr': input.podSubnet, 'service-cluster-ip-range': input.serviceSubnet }
      : {}),
  };
  // the controller-manager has no /livez: kubeadm keeps /healthz (#126945)
  const at = (kind: 'liveness' | 'startup') => probe(input, '127.0.0.1', 10257, '/healthz', 'HTTPS', kind);
  const flexVolume: HostPathVolume[] = KUBEADM_CHANGES.noFlexVolumeMount(input)
    ? []
    : [
        {
          name: 'flexvolume-dir',
          path: input.controllerManager.extraArgs['flex-volume-plugin-dir'] ?? FLEXVOLUME_DIR,
          type: 'DirectoryOrCreate',
          readOnly: false,
        },
      ];
  return pod(
    input,
    'kube-controller-manager',
    {
      command: ['kube-controller-manager', ...flagsFor(input, flags, input.controllerManager)],
      image: `${input.imageRepository}/kube-controller-manager:${input.kubernetesVersion}`,
      livenessProbe: at('liveness'),
      ...probePorts(input, 10257),
      resources: { requests: { cpu: '200m' } },
      startupProbe: at('startup'),
    },
    [...caVolumes(input), ...flexVolume, { name: 'kubeconfig', path: conf, type: 'FileOrCreate', readOnly: true }],
    input.controllerManager,
  );
}

function schedulerPod(input: ControlPlaneInput): Pod {
  const conf = SCHEDULER_CONF;
  const flags: Record<string, string> = {
    'authentication-kubeconfig': conf,
    'authorization-kubeconfig': conf,
    'bind-address': '127.0.0.1',
    kubeconfig: conf,
    'leader-elect': 'true',
    ...(KUBEADM_CHANGES.noComponentInsecurePort(input) ? {} : { port: '0' }),
  };
  const at = (path: string, kind: 'liveness' | 'readiness' | 'startup') => probe(input, '127.0.0.1', 10259, path, 'HTTPS', kind);
  const probes = KUBEADM_CHANGES.schedulerLivezReadyz(input)
    ? { livenessProbe: at('/livez', 'liveness'), readinessProbe: at('/readyz', 'readiness'), startupProbe: at('/livez', 'startup') }
    : { livenessProbe: at('/healthz', 'liveness'), startupProbe: at('/healthz', 'startup') };
  return pod(
    input,
    'kube-scheduler',
    {
      command: ['kube-scheduler', ...flagsFor(input, flags, input.scheduler)],
      image: `${input.imageRepository}/kube-scheduler:${input.kubernetesVersion}`,
      ...probePorts(input, 10259),
      ...probes,
      resources: { requests: { cpu: '100m' } },
    },
    [{ name: 'kubeconfig', path: conf, type: 'FileOrCreate', readOnly: true }],
    input.scheduler,
  );
}

export function controlPlanePods(input: ControlPlaneInput): ControlPlanePods {
  return {
    ...(input.externalEtcd ? {} : { etcd: etcdPod(input) }),
    'kube-apiserver': apiServerPod(input),
    'kube-controller-manager': controllerManagerPod(input),
    'kube-scheduler': schedulerPod(input),
  };
}

/** A manifest file's text: the object with kubeadm's creationTimestamp/status placeholders. */
export function manifestYaml(pod: Pod): string {
  const withPlaceholders = { ...pod, metadata: { ...pod.metadata, creationTimestamp: null }, status: {} };
  return stringify(withPlaceholders, { indentSeq: false, sortMapEntries: true });
}
