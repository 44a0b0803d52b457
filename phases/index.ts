/** The apply workflow: the only place where phase order is decided. */
import type { CheckGroup, DoctorRun } from '../src/doctor/finding.js';
import type { Phase } from '../src/kit/phase.js';
import { addonsReadyPhase } from './addons-ready.js';
import { adminKubeconfigPhase } from './admin-kubeconfig.js';
import { airgapImagesPhase } from './airgap-images.js';
import { apiLoadBalancerPhase } from './api-load-balancer.js';
import { certsRenewPhase } from './certs-renew.js';
import { clusterObjectsPhase } from './cluster-objects.js';
import { containerRuntimePhase } from './container-runtime.js';
import { controlPlanePhase } from './control-plane.js';
import { doctorCertificatesPhase } from './doctor-certificates.js';
import { doctorClusterPhase } from './doctor-cluster.js';
import { doctorEtcdPhase } from './doctor-etcd.js';
import { doctorHostsPhase } from './doctor-hosts.js';
import { deleteNodePhase, drainPhase, type NodeLeaving } from './drain.js';
import { firewallPhase } from './firewall.js';
import { hostnamePhase } from './hostname.js';
import { hostsFilePhase } from './hosts-file.js';
import { joinControlPlanesPhase } from './join-control-planes.js';
import { joinWorkersPhase } from './join-workers.js';
import { kernelModulesPhase } from './kernel-modules.js';
import { kernelPhase } from './kernel.js';
import { kubeletStartPhase } from './kubelet-start.js';
import { kubePackagesPhase } from './kube-packages.js';
import { limitsPhase } from './limits.js';
import { parkedManifestsPhase } from './parked-manifests.js';
import { resetPhase } from './reset.js';
import { selinuxPhase } from './selinux.js';
import { siteRegistryPhase } from './site-registry.js';
import { siteRegistryClientsPhase } from './site-registry-clients.js';
import { swapPhase } from './swap.js';
import { sysctlPhase } from './sysctl.js';
import { timeSyncPhase } from './time-sync.js';
import { upgradeControlPlanesPhase } from './upgrade-control-planes.js';
import { upgradeWorkersPhase } from './upgrade-workers.js';
import { waitControlPlanePhase } from './wait-control-plane.js';
import { workerNodesPhase } from './worker-nodes.js';

/** What --only/--skip know several phases by. */
export type Group = 'recover' | 'prepare' | 'init' | 'join' | 'addons';

interface Step {
  readonly group: Group;
  readonly phase: Phase;
}

/**
 * The apply workflow, the one list of it: each phase in its place, with the group --only/--skip
 * know it by. Every other workflow takes its parts from here.
 */
const APPLY: readonly Step[] = [
  // first in every command that touches control planes (reset removes the copy with the rest): an
  // API server an interrupted run left stopped comes back before anything relies on it
  { group: 'recover', phase: parkedManifestsPhase },
  // host preparation: every node, before Kubernetes runs on it; a kernel upgrade reboots the host,
  // so it comes before anything that sets live kernel state
  { group: 'prepare', phase: kernelPhase },
  { group: 'prepare', phase: hostnamePhase },
  { group: 'prepare', phase: swapPhase },
  // modules before sysctl: the net.bridge.* settings exist only once br_netfilter is loaded
  { group: 'prepare', phase: kernelModulesPhase },
  { group: 'prepare', phase: sysctlPhase },
  { group: 'prepare', phase: hostsFilePhase },
  { group: 'prepare', phase: limitsPhase },
  { group: 'prepare', phase: timeSyncPhase },
  { group: 'prepare', phase: selinuxPhase },
  { group: 'prepare', phase: firewallPhase },
  { group: 'prepare', phase: containerRuntimePhase },
  // images need containerd, and must be there before the kubelet starts anything
  { group: 'prepare', phase: airgapImagesPhase },
  { group: 'prepare', phase: kubePackagesPhase },
  { group: 'prepare', phase: apiLoadBalancerPhase },
  // the first control plane (kubeadm init): files, then the kubelet that runs them, then the API
  { group: 'init', phase: controlPlanePhase },
  // serves images before any kubelet pulls: the registry first, then every node pointed at it
  { group: 'init', phase: siteRegistryPhase },
  { group: 'init', phase: siteRegistryClientsPhase },
  { group: 'init', phase: kubeletStartPhase },
  // workers need only the CA to start their kubelets: they start while the first control plane
  // comes up, and register the moment its API answers (bench:cluster measures what this saves)
  { group: 'join', phase: joinWorkersPhase },
  { group: 'init', phase: waitControlPlanePhase },
  { group: 'init', phase: clusterObjectsPhase },
  { group: 'init', phase: adminKubeconfigPhase },
  // the other control planes through the running one, then the workers' second half
  { group: 'join', phase: joinControlPlanesPhase },
  { group: 'join', phase: workerNodesPhase },
  // last: the add-ons need the nodes they run on
  { group: 'addons', phase: addonsReadyPhase },
];

const ofGroup = (group: Group): readonly Phase[] => APPLY.filter((s) => s.group === group).map((s) => s.phase);

export const applyPhases: readonly Phase[] = APPLY.map((s) => s.phase);

/** Names usable with --only/--skip for several phases at once. */
export const PHASE_GROUPS: Readonly<Record<Group, readonly string[]>> = {
  recover: ofGroup('recover').map((p) => p.name),
  prepare: ofGroup('prepare').map((p) => p.name),
  init: ofGroup('init').map((p) => p.name),
  join: ofGroup('join').map((p) => p.name),
  addons: ofGroup('addons').map((p) => p.name),
};

/** Host preparation alone (`kubestrap join` on the node runs it before its join). */
export const preparePhases: readonly Phase[] = ofGroup('prepare');
export const recoveryPhases: readonly Phase[] = ofGroup('recover');

/** `certs renew NAME -i FILE`: the renewal on each control plane, then the workstation's admin kubeconfig. */
export const certsRenewPhases = (names: ReadonlySet<string>): readonly Phase[] => [
  ...recoveryPhases,
  certsRenewPhase(names),
  adminKubeconfigPhase,
];

/** The host phases an upgrade re-runs on each node inside its drain window: what follows the Kubernetes version. */
export const ROLLED_HOST_PHASES: readonly Phase[] = [containerRuntimePhase, kubePackagesPhase];

/** `upgrade apply`: control planes one at a time, the cluster objects of the new release, then the workers `batch` at a time. */
export const upgradePhases = (batch: number): readonly Phase[] => [
  ...recoveryPhases,
  upgradeControlPlanesPhase(ROLLED_HOST_PHASES),
  clusterObjectsPhase,
  upgradeWorkersPhase(batch, ROLLED_HOST_PHASES),
];

/** `remove-node`: the node drained through another control plane's API, its host reset, its Node deleted. */
export const removeNodePhases = (leaving: NodeLeaving): readonly Phase[] => [
  drainPhase(leaving),
  resetPhase((ctx) => ctx.hosts.filter((h) => h.spec.name === leaving.host)),
  deleteNodePhase(leaving),
];

/** `reset`: every selected host. */
export const resetPhases: readonly Phase[] = [resetPhase()];

/** `doctor`: one read-only phase per check group; each adds its findings to `run`. */
const DOCTOR: Readonly<Record<CheckGroup, (run: DoctorRun) => Phase>> = {
  hosts: doctorHostsPhase,
  certificates: doctorCertificatesPhase,
  etcd: doctorEtcdPhase,
  cluster: doctorClusterPhase,
};

/** `doctor --only/--skip`: the chosen groups' phases, in CHECK_GROUPS' order. */
export const doctorPhases = (run: DoctorRun, groups: readonly CheckGroup[]): readonly Phase[] => groups.map((g) => DOCTOR[g](run));
