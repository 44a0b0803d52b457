/**
 * What a node runs right now, read from /proc: the command line of each control-plane
 * component and of the kubelet. A static pod whose manifest changed is rolled when every process
 * of that component runs the manifest's command — the old one gone, the new one started — which
 * holds with any container runtime, and needs no mirror pod (those appear late).
 */
import type { Host } from '../transport/host.js';

export const COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet'] as const;
export type Component = (typeof COMPONENTS)[number];

const RECORD = '\x1e';

/**
 * One pass over /proc with shell builtins only (a fork per process would cost seconds on a busy
 * node); /proc/PID/comm holds at most 15 characters, so kube-controller-manager is "kube-controller".
 */
const LIST_SCRIPT = `for d in /proc/[0-9]*; do
  read -r c < "$d/comm" 2>/dev/null || continue
  case "$c" in etcd|kube-apiserver|kube-controller|kube-scheduler|kubelet) printf '${RECORD}%s\\n' "\${d#/proc/}"; tr '\\0' '\\n' < "$d/cmdline" 2>/dev/null;; esac
done; true`;

export interface RunningProcess {
  readonly pid: number;
  readonly component: Component;
  readonly argv: readonly string[];
}

export function parseRunning(stdout: string): RunningProcess[] {
  return stdout
    .split(RECORD)
    .filter(Boolean)
    .flatMap((record) => {
      const [pid, ...argv] = record.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1);
      const component = COMPONENTS.find((c) => argv[0]?.split('/').pop() === c);
      return component && argv.length ? [{ pid: Number(pid), component, argv }] : [];
    });
}

export async function runningProcesses(host: Host): Promise<RunningProcess[]> {
  return parseRunning((await host.check(LIST_SCRIPT)).stdout);
}

/** True when the component runs, and every process of it runs exactly `command`. */
export function runsCommand(running: readonly RunningProcess[], component: Component, command: readonly string[]): boolean {
  const mine = running.filter((p) => p.component === component);
  return mine.length > 0 && mine.every((p) => p.argv.length === command.length && p.argv.every((a, i) => a === command[i]));
}

/** True when the kubelet runs once, with every one of `flags` on its command line. */
export function kubeletRunsWith(running: readonly RunningProcess[], flags: readonly string[]): RunningProcess | undefined {
  const kubelets = running.filter((p) => p.component === 'kubelet');
  return kubelets.length === 1 && flags.every((f) => kubelets[0]!.argv.includes(f)) ? kubelets[0] : undefined;
}
