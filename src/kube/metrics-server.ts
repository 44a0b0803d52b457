/**
 * metrics-server on the aggregation layer (the API server already has the front-proxy flags):
 * the objects of its upstream release manifest (v0.7.2) with the image from the cluster's image
 * repository; where two nodes run workloads, in upstream's high-availability shape (two
 * replicas on different nodes, a disruption budget), so that `kubectl top` and autoscalers keep
 * answering while a node is drained. How it trusts the kubelets is an explicit choice: kubelet
 * serving certificates signed by the cluster CA (kubelets run with serverTLSBootstrap and
 * kubestrap approves their requests), or --kubelet-insecure-tls. From 1.30 a replica that is
 * evicted keeps serving a few seconds while clients stop sending to it.
 */
import { disruptionBudget } from './addons.js';
import { clusterRole, clusterRoleBinding, roleBinding } from './cluster-objects.js';
import type { KubeObject } from '../../templates/objects.js';
import { KUBERNETES_CHANGES } from '../../templates/versions.js';

export const METRICS_SERVER_VERSION = 'v0.7.2';

/**
 * How long an evicted or replaced replica keeps serving before it is told to stop: its Service's
 * endpoints drop it at once, but each node's kube-proxy and the API servers' connections to it
 * follow within seconds, and a read sent there meanwhile fails with 503 (v0.7.2 has no shutdown
 * delay of its own; its image has no sleep binary).
 */
const SERVING_AFTER_EVICTION_SECONDS = 10;

export interface MetricsServerInput {
  readonly imageRepository: string;
  readonly insecureTls: boolean;
  readonly minor: number;
  /** Upstream's high-availability component: needs two nodes that run workloads. */
  readonly highAvailability: boolean;
}

/** Upstream nests the image (metrics-server/metrics-server); mirrors keep images flat. */
export function metricsServerImage(imageRepository: string): string {
  const nested = imageRepository === 'registry.k8s.io';
  return `${imageRepository}/${nested ? 'metrics-server/metrics-server' : 'metrics-server'}:${METRICS_SERVER_VERSION}`;
}

export function metricsServerObjects(input: MetricsServerInput): KubeObject[] {
  const labels = { 'k8s-app': 'metrics-server' };
  const sa = [{ kind: 'ServiceAccount' as const, name: 'metrics-server', namespace: 'kube-system' }];
  const aggregated = clusterRole('system:aggregated-metrics-reader', [
    { apiGroups: ['metrics.k8s.io'], resources: ['pods', 'nodes'], verbs: ['get', 'list', 'watch'] },
  ]);
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'metrics-server', namespace: 'kube-system', labels } },
    {
      ...aggregated,
      metadata: {
        ...aggregated.metadata,
        labels: {
          ...labels,
          'rbac.authorization.k8s.io/aggregate-to-admin': 'true',
          'rbac.authorization.k8s.io/aggregate-to-edit': 'true',
          'rbac.authorization.k8s.io/aggregate-to-view': 'true',
        },
      },
    },
    clusterRole('system:metrics-server', [
      { apiGroups: [''], resources: ['nodes/metrics'], verbs: ['get'] },
      { apiGroups: [''], resources: ['pods', 'nodes'], verbs: ['get', 'list', 'watch'] },
    ]),
    roleBinding('metrics-server-auth-reader', 'kube-system', 'extension-apiserver-authentication-reader', sa),
    clusterRoleBinding('metrics-server:system:auth-delegator', 'system:auth-delegator', sa),
    clusterRoleBinding('system:metrics-server', 'system:metrics-server', sa),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'metrics-server', namespace: 'kube-system', labels },
      spec: { ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 'https' }], selector: labels },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'metrics-server', namespace: 'kube-system', labels },
      spec: {
        ...(input.highAvailability ? { replicas: 2 } : {}),
        selector: { matchLabels: labels },
        strategy: { rollingUpdate: { maxUnavailable: input.highAvailability ? 1 : 0 } },
        template: {
          metadata: { labels },
          spec: {
            ...(input.highAvailability
              ? {
                  affinity: {
                    podAntiAffinity: {
                      requiredDuringSchedulingIgnoredDuringExecution: [
                        { labelSelector: { matchLabels: labels }, namespaces: ['kube-system'], topologyKey: 'kubernetes.io/hostname' },
                      ],
                    },
                  },
                }
              : {}),
            containers: [
              {
                name: 'metrics-server',
                image: metricsServerImage(input.imageRepository),
                imagePullPolicy: 'IfNotPresent',
                args: [
                  '--cert-dir=/tmp',
                  '--secure-port=10250',
                  '--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname',
                  '--kubelet-use-node-status-port',
                  '--metric-resolution=15s',
                  ...(input.insecureTls ? ['--kubelet-insecure-tls'] : []),
                ],
                ports: [{ containerPort: 10250, name: 'https', protocol: 'TCP' }],
                ...(KUBERNETES_CHANGES.preStopSleepAction({ minor: input.minor })
                  ? { lifecycle: { preStop: { sleep: { seconds: SERVING_AFTER_EVICTION_SECONDS } } } }
                  : {}),
                livenessProbe: { failureThreshold: 3, httpGet: { path: '/livez', port: 'https', scheme: 'HTTPS' }, periodSeconds: 10 },
                readinessProbe: {
                  failureThreshold: 3,
                  httpGet: { path: '/readyz', port: 'https', scheme: 'HTTPS' },
                  initialDelaySeconds: 20,
                  periodSeconds: 10,
                },
                resources: { requests: { cpu: '100m', memory: '200Mi' } },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  capabilities: { drop: ['ALL'] },
                  readOnlyRootFilesystem: true,
                  runAsNonRoot: true,
                  runAsUser: 1000,
                  seccompProfile: { type: 'RuntimeDefault' },
                },
                volumeMounts: [{ mountPath: '/tmp', name: 'tmp-dir' }],
              },
            ],
            nodeSelector: { 'kubernetes.io/os': 'linux' },
            priorityClassName: 'system-cluster-critical',
            serviceAccountName: 'metrics-server',
            volumes: [{ emptyDir: {}, name: 'tmp-dir' }],
          },
        },
      },
    },
    ...(input.highAvailability ? [disruptionBudget('metrics-server', labels, input.minor)] : []),
    {
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: { name: 'v1beta1.metrics.k8s.io', labels },
      spec: {
        group: 'metrics.k8s.io',
        groupPriorityMinimum: 100,
        insecureSkipTLSVerify: true,
        service: { name: 'metrics-server', namespace: 'kube-system' },
        version: 'v1beta1',
        versionPriority: 100,
      },
    },
  ];
}
