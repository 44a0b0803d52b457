/**
 * Restarting a control plane's static pods in place, and knowing when they are back — by the
 * processes in /proc, which holds with any container runtime and needs no mirror pod.
 */
import { readyForRestart, rejoined, withMembers } from '../etcd/member-gate.js';
import { quote } from '../transport/quote.js';
import { pollUntil } from '../util/poll.js';
import type { HostTarget } from '../kit/phase.js';
import { manifestPath } from './node-files.js';
import { API_PORT } from '../inventory/resolve.js';
import { runningProcesses, type Component, type RunningProcess } from './running.js';
import { KUBERNETES_DIR } from '../../templates/paths.js';

const WAIT_MS = 240_000;
/** A /proc scan on the node: cheap, so asked often (a process starts or ends within a second). */
export const PROCESS_POLL_MS = 500;
export const API_SERVER_MANIFEST = manifestPath('kube-apiserver');
/** Where stopApiServer sets the manifest aside; reset removes it, the parked-manifests phase puts it back. */
export const PARKED_API_SERVER = `${KUBERNETES_DIR}/kube-apiserver.yaml.parked-by-kubestrap`;

/** Polls the node's processes until `done` holds for them; the failure names `what`. */
export async function untilRunning(target: HostTarget, what: string, done: (running: RunningProcess[]) => boolean): Promise<void> {
  await pollUntil(async () => done(await runningProcesses(target.host)), {
    timeoutMs: WAIT_MS,
    intervalMs: PROCESS_POLL_MS,
    failure: () => `${target.spec.name}: ${what} within ${WAIT_MS / 1000} s (journalctl -u kubelet; /var/log/pods)`,
  });
}

const killContainers = (component: Component) =>
  `for c in $(ctr -n k8s.io containers ls -q ${quote(`labels."io.kubernetes.container.name"==${component}`)}); do ctr -n k8s.io tasks kill -s SIGTERM "$c" >/dev/null 2>&1; done; true`;

/** Requests in flight when kube-apiserver has closed its listener get this long to finish before kubestrap ends it. */
const IN_FLIGHT_GRACE_DECISECONDS = 30;
/** How long an API server told to stop may keep listening (its own shutdown timeout is 60 s). */
const LISTENER_CLOSE_DECISECONDS = 600;

/**
 * Ends the API server processes `pids`, which were told to stop (SIGTERM, from the kubelet or
 * from kubestrap). kube-apiserver closes its listener at once, then keeps running until its
 * watches end or its 60 s shutdown timeout passes — the kubelet's 30 s grace period ends it
 * first; releases before 1.27 (--shutdown-watch-termination-grace-period) do not end watches
 * themselves. So: once nothing listens on the API port (no new request can arrive; balancers
 * send clients to the other control planes), requests in flight get a few seconds, and what is
 * left are watches, whose clients watch again wherever the API answers. Polled on the node.
 */
function endStoppingApiServer(pids: readonly number[]): string {
  const port = API_PORT.toString(16).toUpperCase().padStart(4, '0');
  return `pids=${quote(pids.join(' '))}
alive() { for p in $pids; do [ "$(cat /proc/$p/comm 2>/dev/null)" = kube-apiserver ] && return 0; done; return 1; }
listening() { grep -qiE '^ *[0-9]+: [0-9A-F]+:${port} [0-9A-F]+:0000 0A ' /proc/net/tcp /proc/net/tcp6 2>/dev/null; }
i=0; while alive && listening && [ $i -lt ${LISTENER_CLOSE_DECISECONDS} ]; do sleep 0.1; i=$((i+1)); done
i=0; while alive && [ $i -lt ${IN_FLIGHT_GRACE_DECISECONDS} ]; do sleep 0.1; i=$((i+1)); done
for p in $pids; do [ "$(cat /proc/$p/comm 2>/dev/null)" = kube-apiserver ] && kill -KILL $p; done; true`;
}

const pidsOf = (running: readonly RunningProcess[], component: Component) =>
  running.filter((p) => p.component === component).map((p) => p.pid);

/** Stops the components' containers and waits until the kubelet has started new ones, which read their files anew. */
export async function restartStaticPods(target: HostTarget, components: readonly Component[]): Promise<void> {
  if (!components.length) return;
  const running = await runningProcesses(target.host);
  const before = new Set(running.filter((p) => components.includes(p.component)).map((p) => p.pid));
  const apiServers = components.includes('kube-apiserver') ? pidsOf(running, 'kube-apiserver') : [];
  await target.host.check([...components.map(killContainers), ...(apiServers.length ? [endStoppingApiServer(apiServers)] : [])].join('\n'));
  await untilRunning(
    target,
    `${components.join(', ')} did not restart`,
    (now) => components.every((c) => now.some((p) => p.component === c)) && !now.some((p) => before.has(p.pid)),
  );
}

/**
 * Stops the node's API server by setting its manifest aside, until no kube-apiserver process
 * remains. An API server whose local etcd is down answers errors (its /livez fails) until a
 * balancer's health checks notice; a stopped one refuses connections, which balancers send to
 * the other control planes at once. So etcd restarts, or leaves, behind a stopped API server.
 */
export async function stopApiServer(target: HostTarget): Promise<void> {
  const pids = pidsOf(await runningProcesses(target.host), 'kube-apiserver');
  // the kubelet sees the manifest go and sends SIGTERM; kubestrap ends the rest of its shutdown
  await target.host.check(`mv -f ${API_SERVER_MANIFEST} ${PARKED_API_SERVER}\n${endStoppingApiServer(pids)}`);
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
