/** The apply workflow: the only place where phase order is decided. */
import type { Phase } from '../src/workflow/phase.js';
import { adminKubeconfigPhase } from './admin-kubeconfig.js';
import { airgapImagesPhase } from './airgap-images.js';
import { apiLoadBalancerPhase } from './api-load-balancer.js';
import { certsRenewPhase } from './certs-renew.js';
import { clusterObjectsPhase } from './cluster-objects.js';
import { containerRuntimePhase } from './container-runtime.js';
import { controlPlanePhase } from './control-plane.js';
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
import { selinuxPhase } from './selinux.js';
import { siteRegistryPhase } from './site-registry.js';
import { swapPhase } from './swap.js';
import { sysctlPhase } from './sysctl.js';
import { timeSyncPhase } from './time-sync.js';
import { upgradeControlPlanesPhase } from './upgrade-control-planes.js';
import { upgradeWorkersPhase } from './upgrade-workers.js';
import { waitControlPlanePhase } from './wait-control-plane.js';
import { workerNodesPhase } from './worker-nodes.js';

/** Host preparation: every node, before Kubernetes runs on it. */
export const preparePhases: readonly Phase[] = [
  // a kernel upgrade reboots the host: before anything that sets live kernel state
  kernelPhase as Phase,
  hostnamePhase as Phase,
  swapPhase as Phase,
  // modules before sysctl: the net.bridge.* settings exist only once br_netfilter is loaded
  kernelModulesPhase as Phase,
  sysctlPhase as Phase,
  hostsFilePhase as Phase,
  limitsPhase as Phase,
  timeSyncPhase as Phase,
  selinuxPhase as Phase,
  firewallPhase as Phase,
  containerRuntimePhase as Phase,
  // images need containerd, and must be there before the kubelet starts anything
  airgapImagesPhase as Phase,
  kubePackagesPhase as Phase,
  apiLoadBalancerPhase as Phase,
];

/** The first control plane (kubeadm init): files, then the kubelet that runs them, then the API. */
const initPhases: readonly Phase[] = [
  controlPlanePhase as Phase,
  // needs the cluster CA (from the control-plane phase), and serves images before any kubelet pulls
  siteRegistryPhase as Phase,
  kubeletStartPhase as Phase,
  waitControlPlanePhase as Phase,
  clusterObjectsPhase as Phase,
  adminKubeconfigPhase as Phase,
];

/** The other nodes (kubeadm join): control planes through the running one; workers in two halves. */
const joinPhases: readonly Phase[] = [joinControlPlanesPhase as Phase, joinWorkersPhase as Phase, workerNodesPhase as Phase];

/**
 * First in every command that touches control planes (reset removes the copy with the rest): an
 * API server an interrupted run left stopped comes back before anything relies on it.
 */
export const recoveryPhases: readonly Phase[] = [parkedManifestsPhase as Phase];

export const applyPhases: readonly Phase[] = [
  ...recoveryPhases,
  ...preparePhases,
  controlPlanePhase as Phase,
  siteRegistryPhase as Phase,
  kubeletStartPhase as Phase,
  // workers need only the CA to start their kubelets: they start while the first control plane
  // comes up, and register the moment its API answers (bench:cluster measures what this saves)
  joinWorkersPhase as Phase,
  waitControlPlanePhase as Phase,
  clusterObjectsPhase as Phase,
  adminKubeconfigPhase as Phase,
  joinControlPlanesPhase as Phase,
  workerNodesPhase as Phase,
];

/** `certs renew NAME -i FILE`: the renewal on each control plane, then the workstation's admin kubeconfig. */
export const certsRenewPhases = (names: ReadonlySet<string>): readonly Phase[] => [...recoveryPhases, certsRenewPhase(names) as Phase, adminKubeconfigPhase as Phase];

/** The host phases an upgrade re-runs on each node inside its drain window: what follows the Kubernetes version. */
export const ROLLED_HOST_PHASES: readonly Phase[] = [containerRuntimePhase as Phase, kubePackagesPhase as Phase];

/** `upgrade apply`: control planes one at a time, the cluster objects of the new release, then the workers `batch` at a time. */
export const upgradePhases = (batch: number): readonly Phase[] => [...recoveryPhases, upgradeControlPlanesPhase(ROLLED_HOST_PHASES) as Phase, clusterObjectsPhase as Phase, upgradeWorkersPhase(batch, ROLLED_HOST_PHASES) as Phase];

/** Names usable with --only/--skip for several phases at once. */
export const PHASE_GROUPS: Readonly<Record<string, readonly string[]>> = {
  recover: recoveryPhases.map((p) => p.name),
  prepare: preparePhases.map((p) => p.name),
  init: initPhases.map((p) => p.name),
  join: joinPhases.map((p) => p.name),
};
