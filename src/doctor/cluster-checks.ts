/**
 * The doctor's cluster checks, through the API: Nodes not Ready; the system workloads (the CNI,
 * kube-proxy, CoreDNS, metrics-server and whatever else runs in their namespaces) with a pod
 * not Ready and why (an image that cannot be pulled, a crash loop with its last log lines);
 * aggregated APIs not available; admission webhooks that fail closed while nothing serves them.
 * Everything read here is the cluster's own data: only strings are taken from it, and printed
 * made printable.
 */
import { printable } from '../log/redact.js';
import { addonState, type AddonProblem } from '../kube/addon-status.js';
import type { ApiClient } from '../kube/api-client.js';
import type { KubeObject } from '../../templates/objects.js';
import type { Finding } from './finding.js';

/** The namespaces of the workloads a cluster needs: kubeadm's add-ons and the CNIs kubestrap deploys. */
const SYSTEM_NAMESPACES = ['kube-system', 'kube-flannel', 'calico-system'] as const;

type Item = Record<string, unknown>;
const text = (v: unknown): string => (typeof v === 'string' ? printable(v) : '');
const record = (v: unknown): Item => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Item) : {});
const items = (v: unknown): Item[] => (Array.isArray(v) ? v.map(record) : []);
const nameOf = (o: Item) => text(record(o.metadata).name);
const condition = (o: Item, type: string) => items(record(o.status).conditions).find((c) => c.type === type);

const error = (subject: string, problem: string, why: string, fix: string): Finding => ({
  severity: 'error',
  group: 'cluster',
  subject,
  problem,
  why,
  fix,
});

async function nodeFindings(api: ApiClient): Promise<Finding[]> {
  return (await api.list('/api/v1/nodes')).flatMap((node) => {
    const ready = condition(node, 'Ready');
    if (ready?.status === 'True') return [];
    const name = nameOf(node);
    return error(
      `Node ${name}`,
      `not Ready (${text(ready?.reason) || 'no status'}${text(ready?.message) ? `: ${text(ready?.message)}` : ''})`,
      'its pods are evicted after 5 minutes and nothing new is scheduled on it',
      `the host findings of ${name} above say why; on ${name}: systemctl status kubelet containerd; journalctl -u kubelet -n 50`,
    );
  });
}

/** What a system workload not Ready breaks, by what it is. */
function workloadWhy(workload: string): string {
  if (/coredns|kube-dns/.test(workload)) return 'names do not resolve in pods (Services by name, the API server as kubernetes.default)';
  if (/kube-proxy/.test(workload)) return 'Services do not reach their pods from the nodes it does not run on';
  if (/flannel|calico/.test(workload)) return 'pods on the nodes it does not run on get no network; those nodes stay NotReady';
  if (/metrics-server/.test(workload)) return 'kubectl top and the HorizontalPodAutoscalers have no figures';
  return 'a workload of the cluster itself is not running as it should';
}

function workloadFinding(p: AddonProblem): Finding {
  const [kind, where] = p.workload.split(' ');
  const [namespace] = (where ?? '').split('/');
  const fix = p.pod
    ? /CrashLoopBackOff|keeps exiting/.test(p.problem)
      ? `kubectl -n ${namespace} logs ${p.pod} --previous (the cause); kubectl -n ${namespace} rollout restart ${kind?.toLowerCase()} ${where?.split('/')[1]} once fixed`
      : `kubectl -n ${namespace} describe pod ${p.pod}`
    : `kubectl -n ${namespace} describe ${kind?.toLowerCase()} ${where?.split('/')[1]}`;
  return {
    severity: p.final ? 'error' : 'warning',
    group: 'cluster',
    subject: `${p.workload}${p.pod ? ` pod ${p.pod}` : ''}`,
    problem: p.problem,
    why: workloadWhy(p.workload),
    fix,
  };
}

async function workloadFindings(api: ApiClient): Promise<Finding[]> {
  const workloads: KubeObject[] = [];
  for (const namespace of SYSTEM_NAMESPACES)
    for (const kind of ['DaemonSet', 'Deployment'] as const) {
      // list items carry no kind: the list says it
      const listed = await api.list(`/apis/apps/v1/namespaces/${namespace}/${kind.toLowerCase()}s`);
      workloads.push(...listed.map((o) => ({ ...o, apiVersion: 'apps/v1', kind, metadata: { name: nameOf(o), namespace } })));
    }
  const state = await addonState(api, workloads, false);
  return state.problems.map(workloadFinding);
}

async function apiServiceFindings(api: ApiClient): Promise<Finding[]> {
  return (await api.list('/apis/apiregistration.k8s.io/v1/apiservices')).flatMap((service) => {
    const available = condition(service, 'Available');
    if (available?.status === 'True') return [];
    const name = nameOf(service);
    const backend = record(record(service.spec).service);
    const [namespace, backendName] = [text(backend.namespace), text(backend.name)];
    return error(
      `APIService ${name}`,
      `not available (${text(available?.reason) || 'no status'}${text(available?.message) ? `: ${text(available?.message)}` : ''})`,
      `${/metrics\.k8s\.io/.test(name) ? 'kubectl top and the HorizontalPodAutoscalers fail; ' : ''}every client that discovers all APIs (kubectl api-resources, namespace deletion, garbage collection) reports errors`,
      backendName
        ? `kubectl -n ${namespace} get pods,endpoints -o wide | grep ${backendName} (the pods serving it must run and be Ready)`
        : `kubectl describe apiservice ${name}`,
    );
  });
}

/** Whether a Service has an endpoint ready to take the API server's calls. */
async function served(api: ApiClient, namespace: string, name: string): Promise<'no service' | 'no endpoint' | 'served'> {
  if (!(await api.get({ apiVersion: 'v1', kind: 'Service', namespace, name }))) return 'no service';
  const endpoints = await api.get({ apiVersion: 'v1', kind: 'Endpoints', namespace, name });
  return items(endpoints?.subsets).some((s) => items(s.addresses).length > 0) ? 'served' : 'no endpoint';
}

async function webhookFindings(api: ApiClient): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration'] as const) {
    for (const configuration of await api.list(`/apis/admissionregistration.k8s.io/v1/${kind.toLowerCase()}s`)) {
      for (const webhook of items(configuration.webhooks)) {
        // admissionregistration.k8s.io/v1 defaults failurePolicy to Fail
        if ((text(webhook.failurePolicy) || 'Fail') !== 'Fail') continue;
        const service = record(record(webhook.clientConfig).service);
        const [namespace, name] = [text(service.namespace), text(service.name)];
        if (!name) continue;
        const state = await served(api, namespace, name);
        if (state === 'served') continue;
        findings.push(
          error(
            `${kind} ${nameOf(configuration)} (webhook ${text(webhook.name)})`,
            `fails closed and ${state === 'no service' ? `its Service ${namespace}/${name} does not exist` : `its Service ${namespace}/${name} has no ready endpoint`}`,
            'the API server refuses every create and update its rules match (failurePolicy: Fail): deployments, and kubestrap itself, fail',
            `kubectl delete ${kind.toLowerCase()} ${nameOf(configuration)} (when what served it is gone), or start its Service's pods again`,
          ),
        );
      }
    }
  }
  return findings;
}

export async function clusterFindings(api: ApiClient): Promise<Finding[]> {
  return [
    ...(await nodeFindings(api)),
    ...(await workloadFindings(api)),
    ...(await apiServiceFindings(api)),
    ...(await webhookFindings(api)),
  ];
}
