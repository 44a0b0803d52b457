/**
 * Restarting a control plane's static pods in place, and knowing when they are back — by the
 * processes in /proc, which holds with any container runtime and needs no mirror pod.
 */
import { readyForRestart, rejoined, withMembers } from '../etcd/member-restart.js';
import { quote } from '../transport/quote.js';
import { pollUntil } from '../util/poll.js';
import type { HostTarget } from '../workflow/phase.js';
import { KUBERNETES_DIR, manifestPath } from './node-files.js';
import { runningProcesses, type Component, type RunningProcess } from './running.js';

const WAIT_MS = 240_000;
export const API_SERVER_MANIFEST = manifestPath('kube-apiserver');
/** Where stopApiServer sets the manifest aside; reset removes it, the parked-manifests phase puts it back. */
export const PARKED_API_SERVER = `${KUBERNETES_DIR}/kube-apiserver.yaml.parked-by-kubestrap`;

/** Polls the node's processes until `done` holds for them; the failure names `what`. */
export async function untilRunning(target: HostTarget, what: string, done: (running: RunningProcess[]) => boolean): Promise<void> {
  await pollUntil(async () => done(await runningProcesses(target.host)), { timeoutMs: WAIT_MS, failure: () => `${target.spec.name}: ${what} within ${WAIT_MS / 1000} s (journalctl -u kubelet; /var/log/pods)` });
}

const killContainers = (component: Component) =>
  `for c in $(ctr -n k8s.io containers ls -q ${quote(`labels."io.kubernetes.container.name"==${component}`)}); do ctr -n k8s.io tasks kill -s SIGTERM "$c" >/dev/null 2>&1; done; true`;

/** Stops the components' containers and waits until the kubelet has started new ones, which read their files anew. */
export async function restartStaticPods(target: HostTarget, components: readonly Component[]): Promise<void> {
  if (!components.length) return;
  const before = new Set((await runningProcesses(target.host)).filter((p) => components.includes(p.component)).map((p) => p.pid));
  await target.host.check(components.map(killContainers).join('\n'));
  await untilRunning(target, `${components.join(', ')} did not restart`, (running) => components.every((c) => running.some((p) => p.component === c)) && !running.some((p) => before.has(p.pid)));
}

/**
 * Stops the node's API server by setting its manifest aside, until no kube-apiserver process
 * remains. An API server whose local etcd is down answers errors (its /livez fails) until a
 * balancer's health checks notice; a stopped one refuses connections, which balancers send to
 * the other control planes at once. So etcd restarts, or leaves, behind a stopped API server.
 */
export async function stopApiServer(target: HostTarget): Promise<void> {
  await target.host.check(`mv -f ${API_SERVER_MANIFEST} ${PARKED_API_SERVER}`);
  await untilRunning(target, 'the API server did not stop', (running) => !running.some((p) => p.component === 'kube-apiserver'));
}

/**
 * Runs `work` (an etcd restart) with the node's API server stopped, then puts its manifest back
 * — as a new pod, which reads its files anew — unless `replaced`: the caller writes a new one.
 */
async function withApiServerStopped(target: HostTarget, work: () => Promise<void>, replaced = false): Promise<void> {
  let done = false;
  try {
    await stopApiServer(target);
    await work();
    done = true;
  } finally {
    // after a failure the API server comes back as it was, so the node is not left without one
    await target.host.check(done && replaced ? `rm -f ${PARKED_API_SERVER}` : `mv -f ${PARKED_API_SERVER} ${API_SERVER_MANIFEST}`);
  }
}

/**
 * Restarts the node's etcd (`restart` writes what makes it restart and waits for the new
 * process) behind its stopped API server: the other members healthy and the leadership elsewhere
 * first, this member rejoined and caught up before the API server returns (which is then as
 * withApiServerStopped leaves it).
 */
export async function restartEtcdMember(target: HostTarget, restart: () => Promise<void>, apiServerReplaced = false): Promise<void> {
  await withMembers(target.host, target.spec.name, async (members) => {
    if (members) await readyForRestart(members);
    await withApiServerStopped(
      target,
      async () => {
        await restart();
        if (members) await rejoined(members);
      },
      apiServerReplaced,
    );
  });
}
