/**
 * The node-local API load balancer (apiLoadBalancer.mode node-local): HAProxy as a static pod
 * on every worker, listening on 127.0.0.1:6443 in front of every control plane's API server,
 * each checked with GET /readyz so an API server that stops, or is not ready yet, is out of rotation.
 * Control planes need none: their API name points at their own API server. Pure functions.
 */
import type { Pod } from './objects.js';
import { MANIFESTS_DIR } from './paths.js';

export const LB_CONFIG_PATH = '/etc/kubestrap/haproxy.cfg';
export const LB_MANIFEST_PATH = `${MANIFESTS_DIR}/kube-lb.yaml`;
export const DEFAULT_LB_IMAGE = 'docker.io/library/haproxy:2.8';
/** Where HAProxy answers its own liveness check (monitor-uri): loopback only. */
const MONITOR_PORT = 8404;
const CONFIG_INSIDE = '/usr/local/etc/haproxy/haproxy.cfg';

export interface LoadBalancerInput {
  readonly listenPort: number;
  /** name and host:port of every API server. */
  readonly apiServers: ReadonlyArray<{ readonly name: string; readonly address: string; readonly port: number }>;
  readonly image: string;
}

export function haproxyConfig(input: LoadBalancerInput): string {
  const host = (a: string) => (a.includes(':') ? `[${a}]` : a);
  return [
    '# Managed by kubestrap: node-local load balancer in front of every API server',
    'global',
    '  maxconn 4000',
    'defaults',
    '  mode tcp',
    // a connection refused by a server not yet marked down is retried on another one
    '  retries 3',
    '  option redispatch',
    '  timeout connect 5s',
    // watches and exec sessions stay open for a long time
    '  timeout client 1h',
    '  timeout server 1h',
    'frontend monitor',
    '  mode http',
    `  bind 127.0.0.1:${MONITOR_PORT}`,
    '  monitor-uri /healthz',
    'frontend kube-apiserver',
    `  bind 127.0.0.1:${input.listenPort}`,
    '  default_backend kube-apiserver',
    'backend kube-apiserver',
    // /readyz, not /healthz: a restarted API server answers /healthz before its informers (the
    // authorizer's among them) have synced, and would refuse requests it allows a moment later;
    // /readyz also fails while one shuts down
    '  option httpchk GET /readyz',
    '  http-check expect status 200',
    '  timeout check 2s',
    // A restart of an API server is quicker than two failed checks: one that stayed "up" got
    // requests the moment its successor listened, before it was ready (a 403 from an authorizer
    // not yet synced). Out at the first failed check, or at the first refused connection of live
    // traffic (retried elsewhere: redispatch); back in only after two good /readyz.
    '  default-server inter 1s fall 1 rise 2 observe layer4 error-limit 1 on-error mark-down',
    ...input.apiServers.map((s) => `  server ${s.name} ${host(s.address)}:${s.port} check check-ssl verify none`),
    '',
  ].join('\n');
}

export function loadBalancerPod(input: LoadBalancerInput): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'kube-lb', namespace: 'kube-system', labels: { component: 'kube-lb', tier: 'node' } },
    spec: {
      hostNetwork: true,
      priorityClassName: 'system-node-critical',
      containers: [
        {
          name: 'haproxy',
          image: input.image,
          imagePullPolicy: 'IfNotPresent',
          command: ['haproxy', '-f', CONFIG_INSIDE],
          livenessProbe: {
            httpGet: { host: '127.0.0.1', path: '/healthz', port: MONITOR_PORT, scheme: 'HTTP' },
            initialDelaySeconds: 5,
            periodSeconds: 10,
            failureThreshold: 3,
            timeoutSeconds: 5,
          },
          resources: { requests: { cpu: '25m', memory: '32Mi' } },
          volumeMounts: [{ name: 'haproxy-config', mountPath: CONFIG_INSIDE, readOnly: true }],
        },
      ],
      volumes: [{ name: 'haproxy-config', hostPath: { path: LB_CONFIG_PATH, type: 'File' } }],
    },
  };
}
