/**
 * Version-dependent facts of Kubernetes releases: the image tags kubeadm picks, and the cut-over
 * releases of what kubeadm writes differently. One place per kind of fact; each gate names the
 * kubeadm change (kubernetes/kubernetes PR) it follows, so a reader can check it at its source.
 */
import type { KubeVersion } from '../src/util/version.js';

type Triple = readonly [number, number, number];
/** major.minor.patch of a version or image tag (3.6.6-0, v2.1.9, 1.7.28~ds1): undefined when it has none. */
export function versionTriple(text: string): Triple | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}
export const compareTriples = (a: Triple, b: Triple) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/** The pause (sandbox) image tag kubeadm uses for each minor release (constants.PauseVersion). */
const PAUSE: Readonly<Record<number, string>> = {
  20: '3.2',
  21: '3.4.1',
  22: '3.5',
  23: '3.6',
  24: '3.7',
  25: '3.8',
  26: '3.9',
  27: '3.9',
  28: '3.9',
  29: '3.9',
  30: '3.9',
  31: '3.10',
  32: '3.10',
  33: '3.10',
  // 3.10.1: #130713 (1.34); 3.10.2: #138199 (1.36), kept by 1.37 (published `kubeadm config images list` of 1.37)
  34: '3.10.1',
  35: '3.10.1',
  36: '3.10.2',
  37: '3.10.2',
};

export function pauseTag(minor: number): string {
  const tag = PAUSE[minor];
  if (!tag) throw new Error(`no pause image version known for Kubernetes 1.${minor}`);
  return tag;
}

/** The sandbox image as kubelet and containerd must agree on it: from the cluster's image repository. */
export function sandboxImage(imageRepository: string, minor: number, override?: string): string {
  return override ?? `${imageRepository}/pause:${pauseTag(minor)}`;
}

/**
 * The etcd image tag kubeadm pairs with each release (constants.SupportedEtcdVersion), as
 * [first patch, tag] steps: kubeadm bumps etcd inside a minor in patch releases too.
 * 1.33.6: 3.5.24 (#134861, cherry-picked to release-1.33 as #135018, merged 2025-11-03, first in
 * the November 2025 patch releases). 1.34: 3.6.4 (#132284 then 3.6.4); 1.35: 3.6.6 (#135271);
 * 1.36: 3.6.8 (#137107); 1.37: 3.7.0 (#140333, from 3.7.0-rc.0).
 */
const ETCD: Readonly<Record<number, ReadonlyArray<readonly [number, string]>>> = {
  20: [[0, '3.4.13-0']],
  21: [[0, '3.4.13-0']],
  22: [[0, '3.5.0-0']],
  23: [[0, '3.5.6-0']],
  24: [[0, '3.5.6-0']],
  25: [[0, '3.5.6-0']],
  26: [[0, '3.5.6-0']],
  27: [[0, '3.5.7-0']],
  28: [[0, '3.5.9-0']],
  29: [[0, '3.5.10-0']],
  30: [[0, '3.5.12-0']],
  31: [[0, '3.5.15-0']],
  32: [[0, '3.5.16-0']],
  33: [
    [0, '3.5.21-0'],
    [6, '3.5.24-0'],
  ],
  34: [[0, '3.6.4-0']],
  35: [[0, '3.6.6-0']],
  36: [[0, '3.6.8-0']],
  37: [[0, '3.7.0-0']],
};

export function etcdImageTag(version: Pick<KubeVersion, 'minor' | 'patch'>, override?: string): string {
  if (override) return override;
  const steps = ETCD[version.minor];
  const tag = steps?.filter(([patch]) => version.patch >= patch).at(-1)?.[1];
  if (!tag) throw new Error(`no etcd version known for Kubernetes 1.${version.minor}`);
  return tag;
}

/** CoreDNS tag per minor release (constants.CoreDNSVersion). */
const COREDNS: Readonly<Record<number, string>> = {
  20: '1.7.0',
  21: 'v1.8.0',
  22: 'v1.8.4',
  23: 'v1.8.6',
  24: 'v1.8.6',
  25: 'v1.9.3',
  26: 'v1.9.3',
  27: 'v1.10.1',
  28: 'v1.10.1',
  29: 'v1.11.1',
  30: 'v1.11.1',
  31: 'v1.11.3',
  32: 'v1.11.3',
  33: 'v1.12.0',
  // 1.34: #131151; 1.35: `kubeadm config images list` of v1.35.0; 1.36: #137605; 1.37: 1.14.6 as real 1.37 clusters run it
  34: 'v1.12.1',
  35: 'v1.13.1',
  36: 'v1.14.2',
  37: 'v1.14.6',
};

const UPSTREAM_REGISTRIES = ['registry.k8s.io', 'k8s.gcr.io'];

/** The image repository kubeadm uses when its configuration names none (registryK8sIoDefault); the newer one when the release is unknown. */
export function kubeadmDefaultImageRepository(v: Pick<KubeVersion, 'minor'> | undefined): string {
  return v && !KUBEADM_CHANGES.registryK8sIoDefault(v) ? 'k8s.gcr.io' : 'registry.k8s.io';
}

/**
 * CoreDNS's image. Upstream keeps it one level down (coredns/coredns) since 1.21; mirrors such as
 * registry.cn-hangzhou.aliyuncs.com/google_containers keep every image flat, so, like kubeadm,
 * a custom image repository gets <repository>/coredns:<tag>.
 */
export function coreDnsImage(imageRepository: string, minor: number): string {
  const tag = COREDNS[minor];
  if (!tag) throw new Error(`no CoreDNS version known for Kubernetes 1.${minor}`);
  const nested = minor >= 21 && UPSTREAM_REGISTRIES.includes(imageRepository);
  return `${imageRepository}/${nested ? 'coredns/coredns' : 'coredns'}:${tag}`;
}

/** At or after the first patch of a minor where a backported change shipped (later minors all have it). */
function since(v: Pick<KubeVersion, 'minor' | 'patch'>, firstPatch: Readonly<Record<number, number>>, fromMinor: number): boolean {
  if (v.minor >= fromMinor) return true;
  const patch = firstPatch[v.minor];
  return patch !== undefined && v.patch >= patch;
}

/**
 * The cut-over releases of what kubeadm writes, by fact. Each is a pure predicate of the
 * release so the table test can check both sides of every cut-over.
 */
export const KUBEADM_CHANGES = {
  /** etcd probes: /health?exclude=NOSPACE&serializable=true (liveness) and ?serializable=false (startup) instead of /health (#110072, #110744). */
  etcdSerializableProbes: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 22,
  /**
   * etcd's pod no longer requests ephemeral-storage (#102673 in 1.22; cherry-picked as #102705 and
   * #102704, merged for the June 2021 patch releases 1.21.2 and 1.20.8).
   */
  noEtcdEphemeralStorage: (v: Pick<KubeVersion, 'minor' | 'patch'>) => since(v, { 20: 8, 21: 2 }, 22),
  /** No --insecure-port=0 on the API server, where it had done nothing since 1.20 (#102121). */
  noApiServerInsecurePort: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 22,
  /** No --port=0 on the controller-manager and scheduler: the components lost the flag (kubernetes/kubeadm#2207). */
  noComponentInsecurePort: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 24,
  /** Static pods run with seccompProfile RuntimeDefault. */
  staticPodSeccompRuntimeDefault: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 24,
  /** Static pods carry `priority: 2000001000` beside priorityClassName system-node-critical (#114338). */
  staticPodPriority: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 24,
  /** etcd runs --experimental-initial-corrupt-check and --experimental-watch-progress-notify-interval=5s (#109074, #111383). */
  etcdCorruptCheckFlags: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 24,
  /**
   * The kubelet no longer gets --container-runtime=remote: kubeadm 1.24 still wrote it for every
   * runtime (#106973), 1.25 dropped it, remote being the only value left (#110022).
   */
  noContainerRuntimeFlag: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 25,
  /** The kubelet gets --pod-infra-container-image so that it never garbage-collects the sandbox image (kubernetes/kubeadm#2626), until noPodInfraContainerImage. */
  podInfraContainerImageFlag: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 24 && !KUBEADM_CHANGES.noPodInfraContainerImage(v),
  /** Control planes lose the node-role.kubernetes.io/master label and gain the control-plane taint (#107533, KEP-2067 stage 2). */
  controlPlaneLabelAndTaintOnly: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 24,
  /** Control planes lose the node-role.kubernetes.io/master taint (KEP-2067 stage 3). */
  noMasterTaint: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 25,
  /** CoreDNS no longer tolerates the node-role.kubernetes.io/master taint, a release after the taint went (KEP-2067 stage 4). */
  coreDnsNoMasterToleration: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 26,
  /** The kubelet's ConfigMap is kubelet-config, not kubelet-config-1.<minor> (UnversionedKubeletConfigMap on by default, #108027). */
  unversionedKubeletConfigMap: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 24,
  /** kubeadm's default image repository is registry.k8s.io, not k8s.gcr.io (#109938). */
  registryK8sIoDefault: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 25,
  /** CoreDNS's probes name their container ports (liveness-probe, readiness-probe), which the container declares. */
  coreDnsNamedProbePorts: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 27,
  /**
   * admin.conf's user is in kubeadm:cluster-admins (bound to cluster-admin by a ClusterRoleBinding)
   * and super-admin.conf holds the system:masters user (#121305, KEP-4214).
   */
  clusterAdminsGroup: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 29,
  /** apiserver-etcd-client loses O=system:masters (#120521). */
  apiServerEtcdClientNoMasters: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 29,
  /** etcd/healthcheck-client loses O=system:masters (#119859, merged for 1.29). */
  etcdHealthcheckClientNoMasters: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 29,
  /** etcd probes /livez (liveness) and /readyz (readiness, startup) (#124465, KEP-4331). */
  etcdLivezReadyzProbes: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 31,
  /** /etc/pki is mounted as /etc/pki/ca-trust and /etc/pki/tls/certs only: it may hold private keys (#124361). */
  splitEtcPkiMount: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 31,
  /** CoreDNS's cache serves nothing of the cluster domain: `disable success` and `disable denial` (#128359). */
  coreDnsClusterDomainUncached: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 32,
  /**
   * The add-ons as kubeadm writes them from 1.21 (CoreDNS 1.8.0): component-config.hash
   * annotations on the kubelet-config and kube-proxy ConfigMaps, CoreDNS's endpointslices RBAC,
   * pod anti-affinity and Service label kubernetes.io/name CoreDNS, capability drop "ALL".
   * kubeadm 1.20.2 (its objects on the e2e lab, which adoption compares with) wrote none of them,
   * had CoreDNS tolerate the master taint before the control-plane one and kube-proxy tolerate
   * CriticalAddonsOnly too. 1.21 is the best-known cut-over; only the 1.20 side is observed here.
   */
  addonsAfter120: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 21,
  /** Control planes get the label node.kubernetes.io/exclude-from-external-load-balancers from 1.21 (kubeadm 1.20.2's do not, seen on the e2e lab). */
  excludeFromLoadBalancersLabel: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 21,
  /** Scheduler probes /livez (startup, liveness) and a /readyz readiness probe instead of /healthz (#126945, 1.32). */
  schedulerLivezReadyz: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 32,
  /** kubelet.conf (init) and bootstrap-kubelet.conf (join) of control planes point at the node's own API server: ControlPlaneKubeletLocalMode on by default (#129956, 1.33). */
  controlPlaneKubeletLocal: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 33,
  /** init and join wait for the controller-manager and the scheduler too, not only the kubelet and the API server (WaitForAllControlPlaneComponents GA, #132594, 1.34). */
  waitForAllComponents: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 34,
  /** Probes use the named container port `probe-port` (#132776, 1.34). */
  namedProbePort: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 34,
  /** NodeLocalCRISocket: instance-config.yaml and containerRuntimeEndpoint in config.yaml; no --container-runtime-endpoint flag, no cri-socket Node annotation (#131981, 1.34). */
  nodeLocalCriSocket: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 34,
  /** The kubelet refuses --pod-infra-container-image (#133779); kubeadm stopped writing it (#133778, 1.35). */
  noPodInfraContainerImage: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 35,
  /** The kubelet refuses cgroup v1 unless failCgroupV1 is false (#134298); SystemVerification fails on cgroup v1 (#134744, 1.35). */
  cgroupV1Refused: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 35,
  /** kube-proxy's IPVS mode is deprecated (#134539, 1.35): kubeadm warns. */
  ipvsDeprecated: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 35,
  /** kubeadm no longer mounts the flex-volume directory into the controller-manager (#136423, 1.36). */
  noFlexVolumeMount: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 36,
  /** kubeadm's v1beta3 API is gone (#136016, 1.37): the ConfigMap must be v1beta4. */
  noV1beta3: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 37,
  /**
   * Only the default flags are sorted; the user's extraArgs come first, in their own order
   * (#135400 in 1.36; cherry-picks #135850-#135853 merged in January 2026, first shipped in the
   * February 2026 patch releases 1.32.12, 1.33.8, 1.34.4, 1.35.1).
   */
  userArgsUnsorted: (v: Pick<KubeVersion, 'minor' | 'patch'>) => since(v, { 32: 12, 33: 8, 34: 4, 35: 1 }, 36),
  /**
   * apiserver-kubelet-client loses O=kubeadm:cluster-admins; the ClusterRoleBinding
   * kubeadm:apiserver-kubelet-client grants system:kubelet-api-admin instead (#138957, 1.37;
   * cherry-picks #138958-#138964 in 1.33.12, 1.34.8, 1.35.5, 1.36.1).
   */
  apiServerKubeletClientBinding: (v: Pick<KubeVersion, 'minor' | 'patch'>) => since(v, { 33: 12, 34: 8, 35: 5, 36: 1 }, 37),
} as const;

/** What Kubernetes itself (not kubeadm) changed, by release: the kubelet, its packages, its support policy. */
export const KUBERNETES_CHANGES = {
  /** The kubelet speaks only the CRI v1 API (KEP-2040): containerd 2, which has no v1alpha2, serves it. */
  criV1Only: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 26,
  /** A kubelet may be three minors older than its API server, not two (KEP-3935). */
  kubeletSkewOfThree: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 28,
  /** cgroup v1 support is in maintenance mode (KEP-4569). */
  cgroupV1Maintenance: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 31,
  /** The community package repositories (pkgs.k8s.io) hold releases from v1.24 on. */
  onPkgsK8sIo: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 24,
  /** A preStop hook can sleep with no binary in the image: the kubelet's sleep action, beta and on by default (KEP-3960). */
  preStopSleepAction: (v: Pick<KubeVersion, 'minor'>) => v.minor >= 30,
} as const;

/** The PodDisruptionBudget API: policy/v1 from 1.21 (GA), policy/v1beta1 before (served until 1.25). */
export const podDisruptionBudgetApi = (minor: number) => (minor >= 21 ? 'policy/v1' : 'policy/v1beta1');

/** etcd ≥ 3.6 takes InitialCorruptCheck as a feature gate and watch-progress without the experimental prefix; 3.7 refuses the old flags (#132838, #133023). */
export const etcdStableFlags = (etcdTag: string) => {
  const v = versionTriple(etcdTag);
  return v !== undefined && compareTriples(v, [3, 6, 0]) >= 0;
};

/** The kubeadm API version of the kubeadm-config ConfigMap each release writes and reads. */
export function kubeadmApiVersion(minor: number): string {
  return minor >= 31 ? 'kubeadm.k8s.io/v1beta4' : minor >= 22 ? 'kubeadm.k8s.io/v1beta3' : 'kubeadm.k8s.io/v1beta2';
}

/** Kubelet flags removed in a release: refused in cluster.kubelet.extraArgs from then on. */
export const REMOVED_KUBELET_FLAGS: ReadonlyArray<{ readonly flag: string; readonly minor: number; readonly why: string }> = [
  { flag: 'cloud-config', minor: 34, why: 'removed from the kubelet in 1.34 (in-tree cloud providers are gone)' },
  { flag: 'register-schedulable', minor: 34, why: 'removed from the kubelet in 1.34; use --register-with-taints' },
  {
    flag: 'pod-infra-container-image',
    minor: 35,
    why: "removed from the kubelet in 1.35 (#133779); the sandbox image is containerd's (cluster.containerRuntime.sandboxImage)",
  },
];

/**
 * The containerd releases each Kubernetes minor supports (containerd RELEASES.md, "Kubernetes
 * support"), as the lowest supported patch of each containerd line. containerd lists no 1.37 row
 * yet; 1.36's is used. containerd 2.0 dropped CRI v1alpha2, the only CRI of kubelets before 1.26.
 */
const CONTAINERD_SUPPORT: ReadonlyArray<{ readonly minors: readonly [number, number]; readonly lines: readonly string[] }> = [
  { minors: [20, 25], lines: ['1.6.0', '1.7.0'] },
  { minors: [26, 33], lines: ['1.6.0', '1.7.0', '2.0.0', '2.1.0'] },
  { minors: [34, 34], lines: ['1.6.39', '1.7.28', '2.0.6', '2.1.3', '2.2.0'] },
  { minors: [35, 35], lines: ['1.7.28', '2.1.5', '2.2.0'] },
  { minors: [36, 37], lines: ['2.2.0', '2.3.0'] },
];

/** Whether containerd `version` is one Kubernetes 1.`minor` supports (undefined when unknown), and the supported lines. */
export function containerdSupport(minor: number, version: string): { ok: boolean; supported: string } | undefined {
  const row = CONTAINERD_SUPPORT.find((r) => minor >= r.minors[0] && minor <= r.minors[1]);
  const v = versionTriple(version);
  if (!row || !v) return undefined;
  const lines = row.lines.map((l) => versionTriple(l)!);
  const newest = lines.at(-1)!;
  // a line newer than the newest listed counts as supported: containerd adds its rows after releasing
  const ok =
    lines.some((l) => l[0] === v[0] && l[1] === v[1] && compareTriples(v, l) >= 0) || compareTriples(v, [newest[0], newest[1] + 1, 0]) >= 0;
  return { ok, supported: row.lines.map((l) => `${l}+`).join(', ') };
}

/** Where the host's containerd is not known yet: version 3 for releases no containerd 1.x serves (1.36+), else 2. */
export function expectedContainerdConfigVersion(minor: number): 2 | 3 {
  const row = CONTAINERD_SUPPORT.find((r) => minor >= r.minors[0] && minor <= r.minors[1]);
  return row && row.lines.every((l) => !l.startsWith('1.')) ? 3 : 2;
}

/** containerd 2.0 and later read configuration version 3 (which 1.x refuses); 1.x gets version 2. */
export function containerdConfigVersion(version: string | undefined): 2 | 3 {
  const v = version ? versionTriple(version) : undefined;
  return v && v[0] >= 2 ? 3 : 2;
}

/** The README's supported-releases table, from the facts above (npm run docs writes it). */
export function releasesTableMarkdown(minMinor: number, maxMinor: number): string {
  const rows = ['| release | etcd (kubeadm default) | CoreDNS | pause | containerd | cgroup |', '| --- | --- | --- | --- | --- | --- |'];
  for (let minor = maxMinor; minor >= minMinor; minor--) {
    const etcd = ETCD[minor]!.map(([patch, tag]) => (patch ? `${tag} from .${patch}` : tag)).join(', ');
    const containerd = CONTAINERD_SUPPORT.find((r) => minor >= r.minors[0] && minor <= r.minors[1])!
      .lines.map((l) => `${l}+`)
      .join(', ');
    const cgroup = KUBEADM_CHANGES.cgroupV1Refused({ minor })
      ? 'v2 (v1 only with `failCgroupV1: false`)'
      : minor >= 31
        ? 'v2 or v1 (v1 deprecated)'
        : 'v1 or v2';
    rows.push(`| 1.${minor} | ${etcd} | ${COREDNS[minor]} | ${PAUSE[minor]} | ${containerd} | ${cgroup} |`);
  }
  return rows.join('\n');
}
