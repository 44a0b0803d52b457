/**
 * What a joining node's bootstrap token, a bootstrapped node and an anonymous client may do,
 * per kubeadm-spec §6 — asked of a real API server with `kubectl auth can-i` (impersonation
 * through the admin kubeconfig). The kubeadm baseline and kubestrap's cluster must both answer
 * exactly this table.
 */
import { readFileSync } from 'node:fs';
import { get } from 'node:https';
import { parse } from 'yaml';
import { kubectlAnswer } from './kubectl.js';

const TOKEN_USER = [
  '--as=system:bootstrap:abcdef',
  '--as-group=system:bootstrappers',
  '--as-group=system:bootstrappers:kubeadm:default-node-token',
];
const NODE_USER = ['--as=system:node:some-node', '--as-group=system:nodes'];
/** Anonymous requests are made for real (without credentials): impersonated ones cannot ask can-i. */
const ANONYMOUS = 'anonymous';

export const BOOTSTRAP_RBAC: ReadonlyArray<{
  who: string;
  as: readonly string[] | typeof ANONYMOUS;
  ask: readonly string[];
  allowed: boolean;
}> = [
  { who: 'bootstrap token', as: TOKEN_USER, ask: ['create', 'certificatesigningrequests.certificates.k8s.io'], allowed: true },
  { who: 'bootstrap token', as: TOKEN_USER, ask: ['create', 'certificatesigningrequests.certificates.k8s.io/nodeclient'], allowed: true },
  { who: 'bootstrap token', as: TOKEN_USER, ask: ['get', 'nodes'], allowed: true },
  { who: 'bootstrap token', as: TOKEN_USER, ask: ['get', 'configmaps/kubeadm-config', '-n', 'kube-system'], allowed: true },
  { who: 'bootstrap token', as: TOKEN_USER, ask: ['get', 'configmaps/kube-proxy', '-n', 'kube-system'], allowed: true },
  { who: 'bootstrap token', as: TOKEN_USER, ask: ['list', 'secrets', '-n', 'kube-system'], allowed: false },
  { who: 'bootstrap token', as: TOKEN_USER, ask: ['delete', 'nodes'], allowed: false },
  { who: 'node', as: NODE_USER, ask: ['get', 'configmaps/kubeadm-config', '-n', 'kube-system'], allowed: true },
  { who: 'node', as: NODE_USER, ask: ['create', 'certificatesigningrequests.certificates.k8s.io/selfnodeclient'], allowed: true },
  { who: 'anonymous', as: ANONYMOUS, ask: ['get', '/api/v1/namespaces/kube-public/configmaps/cluster-info'], allowed: true },
  { who: 'anonymous', as: ANONYMOUS, ask: ['get', '/api/v1/namespaces/kube-system/configmaps/kubeadm-config'], allowed: false },
];

/** Each row's answer from the API server: "who: verb resource → yes|no". */
/** HTTP status of a GET without any credentials, verifying the server against the cluster CA. */
function anonymousGet(kubeconfig: string, path: string): Promise<number> {
  const cluster = (parse(readFileSync(kubeconfig, 'utf8')) as { clusters: Array<{ cluster: Record<string, string> }> }).clusters[0]!
    .cluster;
  const ca = Buffer.from(cluster['certificate-authority-data']!, 'base64');
  return new Promise((resolve, reject) => {
    get(new URL(path, cluster.server), { ca, servername: 'kubernetes' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

export async function askBootstrapRbac(kubeconfig: string): Promise<string[]> {
  return Promise.all(
    BOOTSTRAP_RBAC.map(async (row) => {
      const answer =
        row.as === ANONYMOUS
          ? (await anonymousGet(kubeconfig, row.ask[1]!)) === 200
            ? 'yes'
            : 'no'
          : await kubectlAnswer(kubeconfig, ['auth', 'can-i', ...row.ask, ...row.as]);
      return `${row.who}: ${row.ask.join(' ')} → ${answer}`;
    }),
  );
}

export const expectedBootstrapRbac = () => BOOTSTRAP_RBAC.map((row) => `${row.who}: ${row.ask.join(' ')} → ${row.allowed ? 'yes' : 'no'}`);
