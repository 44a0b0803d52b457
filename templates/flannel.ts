/**
 * Flannel (VXLAN backend), kubestrap's bundled CNI: the objects of flannel's documented
 * kube-flannel.yml (v0.28.9) as data, with the cluster's pod CIDR in net-conf.json, the MTU when
 * the inventory sets one, and the images from a mirror when cni.imageRepository is set.
 */
import type { KubeObject } from './objects.js';

export const FLANNEL_VERSION = 'v0.28.9';
export const FLANNEL_CNI_PLUGIN_VERSION = 'v1.9.1-flannel3';
/** Where flannel publishes its images since v0.26 (docker.io/flannel before). */
const UPSTREAM = 'ghcr.io/flannel-io';
/** flanneld's health endpoint (/healthz for liveness, /readyz once it holds its subnet lease). */
const HEALTHZ_PORT = 8081;

export interface FlannelInput {
  readonly podSubnet: string;
  readonly mtu?: number;
  /** Registry (and path) holding flannel and flannel-cni-plugin; default docker.io/flannel. */
  readonly imageRepository?: string;
}

export function flannelObjects(input: FlannelInput): KubeObject[] {
  const repo = input.imageRepository ?? UPSTREAM;
  const labels = { app: 'flannel', 'k8s-app': 'flannel', tier: 'node' };
  const cniConf = {
    name: 'cbr0',
    cniVersion: '0.3.1',
    plugins: [
      { type: 'flannel', delegate: { hairpinMode: true, isDefaultGateway: true, ...(input.mtu ? { mtu: input.mtu } : {}) } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
  const netConf = { Network: input.podSubnet, EnableNFTables: false, Backend: { Type: 'vxlan', ...(input.mtu ? { MTU: input.mtu } : {}) } };
  const hostPath = (name: string, path: string, type?: string) => ({ name, hostPath: { path, ...(type ? { type } : {}) } });
  return [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'kube-flannel', labels: { 'k8s-app': 'flannel', 'pod-security.kubernetes.io/enforce': 'privileged' } },
    },
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'flannel', namespace: 'kube-flannel', labels: { 'k8s-app': 'flannel' } },
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'flannel', labels: { 'k8s-app': 'flannel' } },
      rules: [
        { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
        { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['nodes/status'], verbs: ['patch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'flannel', labels: { 'k8s-app': 'flannel' } },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'flannel' },
      subjects: [{ kind: 'ServiceAccount', name: 'flannel', namespace: 'kube-flannel' }],
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'kube-flannel-cfg', namespace: 'kube-flannel', labels },
      data: { 'cni-conf.json': `${JSON.stringify(cniConf, null, 2)}\n`, 'net-conf.json': `${JSON.stringify(netConf, null, 2)}\n` },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'kube-flannel-ds', namespace: 'kube-flannel', labels },
      spec: {
        selector: { matchLabels: { app: 'flannel' } },
        template: {
          metadata: { labels },
          spec: {
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/os', operator: 'In', values: ['linux'] }] }],
                },
              },
            },
            hostNetwork: true,
            priorityClassName: 'system-node-critical',
            tolerations: [{ effect: 'NoSchedule', operator: 'Exists' }],
            serviceAccountName: 'flannel',
            initContainers: [
              {
                name: 'install-cni-plugin',
                image: `${repo}/flannel-cni-plugin:${FLANNEL_CNI_PLUGIN_VERSION}`,
                command: ['cp'],
                args: ['-f', '/flannel', '/opt/cni/bin/flannel'],
                volumeMounts: [{ name: 'cni-plugin', mountPath: '/opt/cni/bin' }],
              },
              {
                name: 'install-cni',
                image: `${repo}/flannel:${FLANNEL_VERSION}`,
                // an atomic copy: containerd never reads a half-written configuration
                command: ['/opt/bin/install-conf'],
                args: ['/etc/kube-flannel/cni-conf.json', '/etc/cni/net.d/10-flannel.conflist'],
                volumeMounts: [
                  { name: 'cni', mountPath: '/etc/cni/net.d' },
                  { name: 'flannel-cfg', mountPath: '/etc/kube-flannel/' },
                ],
              },
            ],
            containers: [
              {
                name: 'kube-flannel',
                image: `${repo}/flannel:${FLANNEL_VERSION}`,
                command: ['/opt/bin/flanneld'],
                args: ['--ip-masq', '--kube-subnet-mgr', `--healthz-port=${HEALTHZ_PORT}`],
                ports: [{ name: 'healthz', containerPort: HEALTHZ_PORT, protocol: 'TCP' }],
                livenessProbe: { httpGet: { path: '/healthz', port: 'healthz' }, initialDelaySeconds: 10, periodSeconds: 30 },
                readinessProbe: { httpGet: { path: '/readyz', port: 'healthz' }, initialDelaySeconds: 5, periodSeconds: 10 },
                resources: { requests: { cpu: '100m', memory: '50Mi' } },
                securityContext: { privileged: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } },
                env: [
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                  { name: 'EVENT_QUEUE_DEPTH', value: '5000' },
                  { name: 'CONT_WHEN_CACHE_NOT_READY', value: 'false' },
                ],
                volumeMounts: [
                  { name: 'run', mountPath: '/run/flannel' },
                  { name: 'flannel-cfg', mountPath: '/etc/kube-flannel/' },
                  { name: 'xtables-lock', mountPath: '/run/xtables.lock' },
                ],
              },
            ],
            volumes: [
              hostPath('run', '/run/flannel'),
              hostPath('cni-plugin', '/opt/cni/bin'),
              hostPath('cni', '/etc/cni/net.d'),
              { name: 'flannel-cfg', configMap: { name: 'kube-flannel-cfg' } },
              hostPath('xtables-lock', '/run/xtables.lock', 'FileOrCreate'),
            ],
          },
        },
      },
    },
  ];
}
