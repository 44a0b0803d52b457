/**
 * The bundled add-ons as API objects: kube-proxy and CoreDNS as kubeadm installs them
 * (kubeadm-spec §10), with the mode and images the inventory chooses. Pure values.
 */
import { stringify } from 'yaml';
import { configMapChecksum } from './config-hash.js';
import { clusterRole, clusterRoleBinding, role, roleBinding } from './cluster-objects.js';
import type { KubeObject } from '../../templates/objects.js';
import { DEFAULT_TOKEN_GROUPS } from '../pki/bootstrap-token.js';
import { KUBEADM_CHANGES, podDisruptionBudgetApi } from '../../templates/versions.js';

export interface KubeProxyInput {
  readonly image: string;
  readonly minor: number;
  readonly server: string;
  readonly podSubnet: string;
  readonly mode: 'ipvs' | 'iptables' | 'nftables';
  readonly ipvsScheduler: string;
  readonly conntrackMaxPerCore?: number;
}

export function kubeProxyConfiguration(input: KubeProxyInput): Record<string, unknown> {
  return {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    bindAddress: '0.0.0.0',
    clientConnection: { kubeconfig: '/var/lib/kube-proxy/kubeconfig.conf' },
    clusterCIDR: input.podSubnet,
    ...(input.conntrackMaxPerCore === undefined ? {} : { conntrack: { maxPerCore: input.conntrackMaxPerCore } }),
    ...(input.mode === 'ipvs' ? { ipvs: { scheduler: input.ipvsScheduler } } : {}),
    mode: input.mode,
  };
}

function kubeProxyKubeconfig(server: string): string {
  return stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ cluster: { 'certificate-authority': '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt', server }, name: 'default' }],
      contexts: [{ context: { cluster: 'default', namespace: 'default', user: 'default' }, name: 'default' }],
      'current-context': 'default',
      users: [{ name: 'default', user: { tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' } }],
    },
    { indentSeq: false },
  );
}

export function kubeProxyObjects(input: KubeProxyInput): KubeObject[] {
  const data = {
    'config.conf': stringify(kubeProxyConfiguration(input), { sortMapEntries: true, indentSeq: false }),
    'kubeconfig.conf': kubeProxyKubeconfig(input.server),
  };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'kube-proxy', namespace: 'kube-system' } },
    clusterRoleBinding('kubeadm:node-proxier', 'system:node-proxier', [
      { kind: 'ServiceAccount', name: 'kube-proxy', namespace: 'kube-system' },
    ]),
    role('kube-proxy', 'kube-system', [{ apiGroups: [''], resources: ['configmaps'], resourceNames: ['kube-proxy'], verbs: ['get'] }]),
    roleBinding('kube-proxy', 'kube-system', 'kube-proxy', [{ kind: 'Group', name: DEFAULT_TOKEN_GROUPS[0]! }]),
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'kube-proxy',
        namespace: 'kube-system',
        labels: { app: 'kube-proxy' },
        ...(KUBEADM_CHANGES.addonsAfter120(input)
          ? { annotations: { 'kubeadm.kubernetes.io/component-config.hash': configMapChecksum(data) } }
          : {}),
      },
      data,
    },
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'kube-proxy', namespace: 'kube-system', labels: { 'k8s-app': 'kube-proxy' } },
      spec: {
        selector: { matchLabels: { 'k8s-app': 'kube-proxy' } },
        updateStrategy: { type: 'RollingUpdate' },
        template: {
          metadata: { labels: { 'k8s-app': 'kube-proxy' } },
          spec: {
            priorityClassName: 'system-node-critical',
            hostNetwork: true,
            serviceAccountName: 'kube-proxy',
            nodeSelector: { 'kubernetes.io/os': 'linux' },
            tolerations: [
              ...(KUBEADM_CHANGES.addonsAfter120(input) ? [] : [{ key: 'CriticalAddonsOnly', operator: 'Exists' }]),
              { operator: 'Exists' },
            ],
            containers: [
              {
                name: 'kube-proxy',
                image: input.image,
                imagePullPolicy: 'IfNotPresent',
                command: ['/usr/local/bin/kube-proxy', '--config=/var/lib/kube-proxy/config.conf', '--hostname-override=$(NODE_NAME)'],
                securityContext: { privileged: true },
                env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } } }],
                volumeMounts: [
                  { mountPath: '/var/lib/kube-proxy', name: 'kube-proxy' },
                  { mountPath: '/run/xtables.lock', name: 'xtables-lock' },
                  { mountPath: '/lib/modules', name: 'lib-modules', readOnly: true },
                ],
              },
            ],
            volumes: [
              { name: 'kube-proxy', configMap: { name: 'kube-proxy' } },
              { name: 'xtables-lock', hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' } },
              { name: 'lib-modules', hostPath: { path: '/lib/modules' } },
            ],
          },
        },
      },
    },
  ];
}

export interface CoreDnsInput {
  readonly image: string;
  readonly dnsDomain: string;
  readonly clusterDns: string;
  readonly minor: number;
  /**
   * A PodDisruptionBudget keeping one of the two replicas up while a node is drained (kubeadm
   * has none: a drain evicting both at once leaves the cluster without DNS). Only where there is
   * a second node to hold one: on a single node it would stop every drain.
   */
  readonly disruptionBudget: boolean;
}

/** The Corefile as kubeadm's ConfigMap holds it (its template's YAML block, 4 columns in, decoded). */
export function corefile(dnsDomain: string, minor: number): string {
  const cache = KUBEADM_CHANGES.coreDnsClusterDomainUncached({ minor })
    ? `cache 30 {\n       disable success ${dnsDomain}\n       disable denial ${dnsDomain}\n    }`
    : 'cache 30';
  return `.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes ${dnsDomain} in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    ${cache}
    loop
    reload
    loadbalance
}
`;
}

export function coreDnsObjects(input: CoreDnsInput): KubeObject[] {
  const labels = { 'k8s-app': 'kube-dns' };
  const after120 = KUBEADM_CHANGES.addonsAfter120(input);
  const namedProbePorts = KUBEADM_CHANGES.coreDnsNamedProbePorts(input);
  const controlPlaneToleration = { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' };
  const masterToleration = { key: 'node-role.kubernetes.io/master', effect: 'NoSchedule' };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'coredns', namespace: 'kube-system' } },
    clusterRole('system:coredns', [
      { apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
      ...(after120
        ? [{ apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] }]
        : [{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }]),
    ]),
    clusterRoleBinding('system:coredns', 'system:coredns', [{ kind: 'ServiceAccount', name: 'coredns', namespace: 'kube-system' }]),
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'coredns', namespace: 'kube-system' },
      data: { Corefile: corefile(input.dnsDomain, input.minor) },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'kube-dns',
        namespace: 'kube-system',
        labels: { ...labels, 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': after120 ? 'CoreDNS' : 'KubeDNS' },
        annotations: { 'prometheus.io/port': '9153', 'prometheus.io/scrape': 'true' },
      },
      spec: {
        clusterIP: input.clusterDns,
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
          { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
          { name: 'metrics', port: 9153, protocol: 'TCP', targetPort: 9153 },
        ],
        selector: labels,
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'coredns', namespace: 'kube-system', labels },
      spec: {
        replicas: 2,
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            priorityClassName: 'system-cluster-critical',
            serviceAccountName: 'coredns',
            ...(after120
              ? {
                  affinity: {
                    podAntiAffinity: {
                      preferredDuringSchedulingIgnoredDuringExecution: [
                        {
                          weight: 100,
                          podAffinityTerm: {
                            labelSelector: { matchExpressions: [{ key: 'k8s-app', operator: 'In', values: ['kube-dns'] }] },
                            topologyKey: 'kubernetes.io/hostname',
                          },
                        },
                      ],
                    },
                  },
                }
              : {}),
            tolerations: [
              { key: 'CriticalAddonsOnly', operator: 'Exists' },
              ...(after120
                ? [controlPlaneToleration, ...(KUBEADM_CHANGES.coreDnsNoMasterToleration(input) ? [] : [masterToleration])]
                : [masterToleration, controlPlaneToleration]),
            ],
            nodeSelector: { 'kubernetes.io/os': 'linux' },
            dnsPolicy: 'Default',
            containers: [
              {
                name: 'coredns',
                image: input.image,
                imagePullPolicy: 'IfNotPresent',
                resources: { limits: { memory: '170Mi' }, requests: { cpu: '100m', memory: '70Mi' } },
                args: ['-conf', '/etc/coredns/Corefile'],
                volumeMounts: [{ name: 'config-volume', mountPath: '/etc/coredns', readOnly: true }],
                ports: [
                  { containerPort: 53, name: 'dns', protocol: 'UDP' },
                  { containerPort: 53, name: 'dns-tcp', protocol: 'TCP' },
                  { containerPort: 9153, name: 'metrics', protocol: 'TCP' },
                  ...(namedProbePorts
                    ? [
                        { containerPort: 8080, name: 'liveness-probe', protocol: 'TCP' },
                        { containerPort: 8181, name: 'readiness-probe', protocol: 'TCP' },
                      ]
                    : []),
                ],
                livenessProbe: {
                  httpGet: { path: '/health', port: namedProbePorts ? 'liveness-probe' : 8080, scheme: 'HTTP' },
                  initialDelaySeconds: 60,
                  timeoutSeconds: 5,
                  successThreshold: 1,
                  failureThreshold: 5,
                },
                readinessProbe: { httpGet: { path: '/ready', port: namedProbePorts ? 'readiness-probe' : 8181, scheme: 'HTTP' } },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  capabilities: { add: ['NET_BIND_SERVICE'], drop: [after120 ? 'ALL' : 'all'] },
                  readOnlyRootFilesystem: true,
                },
              },
            ],
            volumes: [{ name: 'config-volume', configMap: { name: 'coredns', items: [{ key: 'Corefile', path: 'Corefile' }] } }],
          },
        },
      },
    },
    ...(input.disruptionBudget ? [disruptionBudget('coredns', labels, input.minor)] : []),
  ];
}

/** A PodDisruptionBudget keeping at least one pod of `labels` up: drains evict the others only while it runs. */
export function disruptionBudget(name: string, labels: Record<string, string>, minor: number): KubeObject {
  return {
    apiVersion: podDisruptionBudgetApi(minor),
    kind: 'PodDisruptionBudget',
    metadata: { name, namespace: 'kube-system', labels },
    spec: { minAvailable: 1, selector: { matchLabels: labels } },
  };
}
