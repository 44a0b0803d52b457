/** The bootstrap-token Secret and the cluster-info ConfigMap, field for field as kubeadm. */
import { stringify } from 'yaml';
import type { BootstrapToken, TokenUsage } from '../pki/bootstrap-token.js';
import type { ConfigMap, Secret } from '../../templates/objects.js';

export interface TokenOptions {
  readonly description?: string;
  /** Time to live in seconds; 0 means the token never expires. */
  readonly ttlSeconds: number;
  readonly usages: readonly TokenUsage[];
  readonly groups: readonly string[];
  readonly now: Date;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

export function tokenSecret(token: BootstrapToken, options: TokenOptions): Secret {
  const data: Record<string, string> = { 'token-id': b64(token.id), 'token-secret': b64(token.secret) };
  if (options.description) data.description = b64(options.description);
  if (options.ttlSeconds > 0) {
    const expires = new Date(options.now.getTime() + options.ttlSeconds * 1000);
    data.expiration = b64(expires.toISOString().replace(/\.\d{3}Z$/, 'Z'));
  }
  for (const usage of options.usages) data[`usage-bootstrap-${usage}`] = b64('true');
  if (options.groups.length) data['auth-extra-groups'] = b64(options.groups.join(','));
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `bootstrap-token-${token.id}`, namespace: 'kube-system' },
    type: 'bootstrap.kubernetes.io/token',
    data,
  };
}

/** The kubeconfig published in kube-public/cluster-info: one unnamed cluster, nothing else. */
export function clusterInfoKubeconfig(server: string, caCertPem: string): string {
  const config = {
    apiVersion: 'v1',
    clusters: [{ cluster: { 'certificate-authority-data': b64(caCertPem), server }, name: '' }],
    contexts: null,
    'current-context': '',
    kind: 'Config',
    users: null,
  };
  return stringify(config, { lineWidth: 0, indentSeq: false });
}

export function clusterInfoConfigMap(kubeconfig: string): ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cluster-info', namespace: 'kube-public' }, data: { kubeconfig } };
}
