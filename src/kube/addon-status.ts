/**
 * The state of the add-ons kubestrap deploys, read through the API the way an operator finds it
 * out with kubectl: each workload (kube-proxy, the CNI, CoreDNS, metrics-server) Ready, or why
 * not, pod by pod: an image that cannot be pulled (with its registry and the kubelet's message),
 * a container that keeps crashing (with its last log lines), a pod the scheduler cannot place
 * (with its reason), a container running but not ready; and whether the metrics API the
 * aggregation layer serves is available. A problem is `final` when waiting will not end it.
 */
import { printable, redactShapes } from '../log/redact.js';
import { parseImageRef } from '../util/image-ref.js';
import type { ApiClient } from './api-client.js';
import type { KubeObject } from '../../templates/objects.js';

export interface AddonProblem {
  /** Kind/namespace/name of the workload, or the APIService. */
  readonly workload: string;
  readonly pod?: string;
  readonly problem: string;
  /** Waiting will not end it (an image that is not there, a crash loop, no node that fits). */
  readonly final: boolean;
  /**
   * Often the consequence of another problem rather than its cause: a pod no node takes while
   * its siblings hold the nodes (anti-affinity), an APIService whose server is not Ready.
   */
  readonly secondary?: boolean;
}

export interface AddonState {
  /** The workloads with every pod Ready. */
  readonly ready: readonly string[];
  readonly problems: readonly AddonProblem[];
}

type Status = { waiting?: { reason?: string; message?: string }; terminated?: { reason?: string; exitCode?: number } };
type ContainerStatus = { name: string; image: string; ready: boolean; restartCount: number; state?: Status; lastState?: Status };
export type Pod = {
  metadata: { name: string; namespace: string; deletionTimestamp?: string };
  spec: { containers: Array<{ name: string; image: string }>; initContainers?: Array<{ name: string; image: string }> };
  status: {
    phase?: string;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
  };
};

const PULL_FAILURES = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);
const CONFIG_FAILURES = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);
/** The last lines of a crashing container shown in a finding: enough for its fatal error. */
const LOG_LINES = 5;

const workloadName = (o: KubeObject) => `${o.kind} ${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;
/** One line of at most 300 characters; a longer one keeps its end, where Go's wrapped errors put the cause. */
function oneLine(text: string | undefined): string {
  const line = printable((text ?? '').replace(/\s+/g, ' ').trim());
  return line.length > 300 ? `…${line.slice(-299)}` : line;
}

function registryOf(image: string): string {
  try {
    return parseImageRef(image).registry;
  } catch {
    return 'an unknown registry';
  }
}

/** The workloads among add-on objects: what has pods to be Ready. */
export function addonWorkloads(objects: readonly KubeObject[]): KubeObject[] {
  return objects.filter((o) => o.kind === 'DaemonSet' || o.kind === 'Deployment');
}

/** What the kubelet answers, with 200, for a container whose log it no longer has. */
const LOG_GONE = /^unable to retrieve container logs for /;

/**
 * The last log lines of a container that keeps exiting: its previous run's; or, when the kubelet
 * has just removed that run (it keeps one exited container, and a restart makes the next one
 * "previous"), the current run's, which a crash loop fills again within moments.
 */
export async function crashLogLines(api: Pick<ApiClient, 'request'>, pod: Pod, container: string): Promise<string[]> {
  const path = (previous: boolean) =>
    `/api/v1/namespaces/${encodeURIComponent(pod.metadata.namespace)}/pods/${encodeURIComponent(pod.metadata.name)}/log?container=${encodeURIComponent(container)}${previous ? '&previous=true' : ''}&tailLines=${LOG_LINES}`;
  let res = await api.request('GET', path(true));
  if (res.status === 200 && LOG_GONE.test(res.body)) res = await api.request('GET', path(false));
  if (res.status !== 200) return [`(its log could not be read: HTTP ${res.status})`];
  const text = printable(redactShapes(res.body)).trim();
  return LOG_GONE.test(text) || !text ? ['(the kubelet has no log of it yet)'] : text.split('\n').slice(-LOG_LINES);
}

/**
 * Why one pod is not Ready, from its status (and the crashing container's last log lines).
 * `siblingsLeaving`: pods of the same workload are terminating, and may be what keeps this one
 * from a node (anti-affinity, room): no placement problem is final until they are gone.
 */
async function podProblem(
  api: ApiClient,
  pod: Pod,
  siblingsLeaving: boolean,
): Promise<Pick<AddonProblem, 'problem' | 'final' | 'secondary'>> {
  const unscheduled = pod.status.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  if (unscheduled)
    return {
      problem: `cannot be scheduled: ${oneLine(unscheduled.message || unscheduled.reason)}`,
      final: unscheduled.reason === 'Unschedulable' && !siblingsLeaving,
      secondary: true,
    };
  const statuses = [...(pod.status.initContainerStatuses ?? []), ...(pod.status.containerStatuses ?? [])];
  for (const c of statuses) {
    const waiting = c.state?.waiting;
    if (waiting?.reason && PULL_FAILURES.has(waiting.reason)) {
      // the back-off's own message says nothing; the pull's failure event says why (kubectl describe shows it)
      const why = (await lastFailure(api, pod)) ?? waiting.message;
      return { problem: `${waiting.reason}: image ${c.image} cannot be pulled from ${registryOf(c.image)}: ${oneLine(why)}`, final: true };
    }
    if (waiting?.reason && CONFIG_FAILURES.has(waiting.reason))
      return { problem: `${waiting.reason} (container ${c.name}): ${oneLine(waiting.message)}`, final: true };
    if (waiting?.reason === 'CrashLoopBackOff' || (c.lastState?.terminated && c.restartCount > 0 && !c.ready)) {
      const lines = await crashLogLines(api, pod, c.name);
      const exit = c.lastState?.terminated?.exitCode;
      return {
        problem: `${waiting?.reason ?? 'restarting'}: container ${c.name} keeps exiting (${c.restartCount} restarts${exit !== undefined ? `, last exit code ${exit}` : ''}); its last log lines: ${lines.map((l) => l.slice(0, 300)).join(' | ')}`,
        final: waiting?.reason === 'CrashLoopBackOff',
      };
    }
  }
  const notReady = statuses.find((c) => !c.ready && c.state && !c.state.waiting);
  if (notReady) return { problem: `container ${notReady.name} is running but not ready yet`, final: false };
  const waiting = statuses.find((c) => c.state?.waiting)?.state?.waiting?.reason;
  // a pod stuck before its containers start (no sandbox, a volume not mounted) says why only in
  // its events, as kubectl describe shows them
  const warning = newest(await podEvents(api, pod, 'type=Warning'));
  return {
    problem: `${pod.status.phase ?? 'Pending'}${waiting ? ` (${waiting})` : ''}${warning ? `; last warning: ${warning.reason ?? 'event'}: ${oneLine(warning.message)}` : ''}`,
    final: false,
  };
}

type PodEvent = { reason?: string; message?: string; lastTimestamp?: string; eventTime?: string };

/** The pod's events matching `fields` (a field selector beside the pod's own), their text fields checked to be strings. */
async function podEvents(api: ApiClient, pod: Pod, fields: string): Promise<PodEvent[]> {
  const selector = encodeURIComponent(`involvedObject.kind=Pod,involvedObject.name=${pod.metadata.name},${fields}`);
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return (await api.list(`/api/v1/namespaces/${encodeURIComponent(pod.metadata.namespace)}/events?fieldSelector=${selector}`)).map((e) => ({
    reason: text(e.reason),
    message: text(e.message),
    lastTimestamp: text(e.lastTimestamp),
    eventTime: text(e.eventTime),
  }));
}

const newest = (events: readonly PodEvent[]) =>
  [...events].sort((a, b) => String(a.lastTimestamp ?? a.eventTime).localeCompare(String(b.lastTimestamp ?? b.eventTime))).at(-1);

/** Why the pod's image pull failed: its newest `Failed to pull image` event (the kubelet's `Error: ImagePullBackOff` events say nothing more). */
async function lastFailure(api: ApiClient, pod: Pod): Promise<string | undefined> {
  return newest((await podEvents(api, pod, 'reason=Failed')).filter((e) => e.message?.startsWith('Failed to pull image')))?.message;
}

const isReady = (pod: Pod) => pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** The state of each add-on workload, and of the metrics API when `metricsApi`. */
export async function addonState(api: ApiClient, workloads: readonly KubeObject[], metricsApi: boolean): Promise<AddonState> {
  const ready: string[] = [];
  const problems: AddonProblem[] = [];
  for (const w of workloads) {
    const name = workloadName(w);
    const live = await api.get({ apiVersion: w.apiVersion, kind: w.kind, namespace: w.metadata.namespace, name: w.metadata.name });
    if (!live) {
      problems.push({ workload: name, problem: 'not created', final: false });
      continue;
    }
    const selector = (w.spec as { selector?: { matchLabels?: Record<string, string> } }).selector?.matchLabels ?? {};
    const query = Object.entries(selector)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const listed = (await api.list(
      `/api/v1/namespaces/${encodeURIComponent(w.metadata.namespace ?? 'default')}/pods?labelSelector=${encodeURIComponent(query)}`,
    )) as unknown as Pod[];
    // terminating pods are on their way out (a rollout, a deleted pod): neither Ready nor a problem
    const pods = listed.filter((p) => !p.metadata.deletionTimestamp);
    const leaving = pods.length < listed.length;
    const status = (live.status ?? {}) as Record<string, number | undefined>;
    const desired = w.kind === 'DaemonSet' ? (status.desiredNumberScheduled ?? 0) : ((live.spec as { replicas?: number }).replicas ?? 1);
    const unready = pods.filter((p) => !isReady(p));
    if (unready.length === 0 && pods.length >= desired) {
      ready.push(name);
      continue;
    }
    if (pods.length === 0) problems.push({ workload: name, problem: `no pod yet (${desired} wanted)`, final: false });
    for (const pod of unready) problems.push({ workload: name, pod: pod.metadata.name, ...(await podProblem(api, pod, leaving)) });
  }
  if (metricsApi) {
    const service = await api.get({ apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService', name: 'v1beta1.metrics.k8s.io' });
    const available = (
      (service?.status as { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> } | undefined)
        ?.conditions ?? []
    ).find((c) => c.type === 'Available');
    if (available?.status !== 'True') {
      // waiting will not help when metrics-server is Ready (the aggregation path itself is broken:
      // front-proxy, service network) or will not become Ready
      const server = 'Deployment kube-system/metrics-server';
      const final = ready.includes(server) || problems.some((p) => p.workload === server && p.final);
      problems.push({
        workload: 'APIService v1beta1.metrics.k8s.io',
        problem: `not available: ${oneLine(available?.message || available?.reason || 'no status yet')}`,
        final,
        secondary: true,
      });
    }
  }
  return { ready, problems };
}

/**
 * Waiting will not make every add-on Ready: each workload with a problem has a pod with a final
 * one. A workload is Ready only with every pod Ready, so one pod whose image is not there holds
 * it back however its other pods fare (a sibling still in ContainerCreating, say).
 */
export function willNotBecomeReady(state: AddonState): boolean {
  const blocked = new Set(state.problems.map((p) => p.workload));
  return state.problems.length > 0 && [...blocked].every((w) => state.problems.some((p) => p.workload === w && p.final));
}

/**
 * The problems in the order an operator acts on them: those waiting will not end first, and of
 * those the causes (an image that is not there, a crash loop) before what often follows from them
 * (a replica no node takes beside its stuck sibling, the metrics API down); each group in its order.
 */
export function problemsByCause(state: AddonState): AddonProblem[] {
  const rank = (p: AddonProblem) => (p.final ? (p.secondary ? 1 : 0) : 2);
  return [0, 1, 2].flatMap((r) => state.problems.filter((p) => rank(p) === r));
}

/** One finding line: the workload, the pod, what is wrong. */
export function formatAddonProblem(p: AddonProblem): string {
  return `${p.workload}${p.pod ? ` pod ${p.pod}` : ''}: ${p.problem}`;
}
