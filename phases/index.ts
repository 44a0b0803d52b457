/** The apply workflow: the only place where phase order is decided. */
import type { Phase } from '../src/workflow/phase.js';
import { containerRuntimePhase } from './container-runtime.js';
import { hostsFilePhase } from './hosts-file.js';
import { kubePackagesPhase } from './kube-packages.js';
import { kernelModulesPhase } from './kernel-modules.js';
import { swapPhase } from './swap.js';
import { sysctlPhase } from './sysctl.js';

export const applyPhases: readonly Phase[] = [
  swapPhase as Phase,
  // modules before sysctl: the net.bridge.* settings exist only once br_netfilter is loaded
  kernelModulesPhase as Phase,
  sysctlPhase as Phase,
  hostsFilePhase as Phase,
  containerRuntimePhase as Phase,
  kubePackagesPhase as Phase,
];
