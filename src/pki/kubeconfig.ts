/**
 * Kubeconfig files as typed values, serialized like client-go's clientcmd writes them (key order
 * apiVersion, clusters, contexts, current-context, kind, preferences, users).
 */
import { parse, stringify } from 'yaml';

/** Embedded credentials, a token, or files (kubeadm points kubelet.conf at the kubelet's rotating certificate). */
export type KubeconfigUser =
  | { readonly 'client-certificate-data': string; readonly 'client-key-data': string }
  | { readonly token: string }
  | { readonly 'client-certificate': string; readonly 'client-key': string };

/** The kubelet's client certificate and key, which it rotates itself. */

export interface Kubeconfig {
  readonly apiVersion: 'v1';
  readonly clusters: ReadonlyArray<{
    readonly cluster: { readonly 'certificate-authority-data': string; readonly server: string };
    readonly name: string;
  }>;
  readonly contexts: ReadonlyArray<{ readonly context: { readonly cluster: string; readonly user: string }; readonly name: string }> | null;
  readonly 'current-context': string;
  readonly kind: 'Config';
  readonly preferences?: Record<string, never>;
  readonly users: ReadonlyArray<{ readonly name: string; readonly user: KubeconfigUser }> | null;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

export interface KubeconfigInput {
  readonly clusterName: string;
  readonly server: string;
  readonly caCertPem: string;
  readonly userName: string;
  readonly credentials: { readonly certPem: string; readonly keyPem: string } | { readonly token: string };
  /** Context name; kubeadm's is <user>@<cluster>. */
  readonly contextName?: string;
}

export function buildKubeconfig(input: KubeconfigInput): Kubeconfig {
  const context = input.contextName ?? `${input.userName}@${input.clusterName}`;
  const user: KubeconfigUser =
    'token' in input.credentials
      ? { token: input.credentials.token }
      : { 'client-certificate-data': b64(input.credentials.certPem), 'client-key-data': b64(input.credentials.keyPem) };
  return {
    apiVersion: 'v1',
    clusters: [{ cluster: { 'certificate-authority-data': b64(input.caCertPem), server: input.server }, name: input.clusterName }],
    contexts: [{ context: { cluster: input.clusterName, user: input.userName }, name: context }],
    'current-context': context,
    kind: 'Config',
    preferences: {},
    users: [{ name: input.userName, user }],
  };
}

export function serializeKubeconfig(config: Kubeconfig): string {
  return stringify(config, { lineWidth: 0, indentSeq: false });
}

export function parseKubeconfig(text: string): Kubeconfig {
  return parse(text) as Kubeconfig;
}

/** The current context's cluster and user, decoded, for checks and reuse. */
export function currentCredentials(config: Kubeconfig): {
  server: string;
  caCertPem: string;
  certPem?: string;
  keyPem?: string;
  token?: string;
  certFile?: string;
} {
  const context = config.contexts?.find((c) => c.name === config['current-context'])?.context;
  const cluster = config.clusters.find((c) => c.name === context?.cluster)?.cluster ?? config.clusters[0]?.cluster;
  const user = config.users?.find((u) => u.name === context?.user)?.user;
  const decode = (s: string | undefined) => (s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8'));
  return {
    server: cluster?.server ?? '',
    caCertPem: decode(cluster?.['certificate-authority-data']) ?? '',
    ...(user && 'client-certificate-data' in user
      ? { certPem: decode(user['client-certificate-data'])!, keyPem: decode(user['client-key-data'])! }
      : {}),
    ...(user && 'token' in user ? { token: user.token } : {}),
    ...(user && 'client-certificate' in user ? { certFile: user['client-certificate'] } : {}),
  };
}

type Named = { readonly name: string; readonly [field: string]: unknown };
/** A kubeconfig file as kubectl reads it: any fields, named lists. */
type KubeconfigFile = {
  clusters?: Named[] | null;
  contexts?: Named[] | null;
  users?: Named[] | null;
  'current-context'?: string;
  [field: string]: unknown;
};

/** The context `incoming`'s current context is renamed to `context`, its cluster and user kept. */
export function renameContext(incoming: string, context: string): string {
  const doc = parse(incoming) as KubeconfigFile;
  const current = doc.contexts?.find((c) => c.name === doc['current-context']);
  if (!current) throw new Error('the kubeconfig has no current context');
  return stringify({ ...doc, contexts: [{ ...current, name: context }], 'current-context': context }, { lineWidth: 0, indentSeq: false });
}

/**
 * `incoming`'s clusters, users and contexts merged into `existing` (a kubeconfig file's text,
 * or undefined when there is none), replacing entries of the same names as kubectl's own
 * `config set-*` would; the existing current context stays, when there is one.
 */
export function mergeKubeconfig(existing: string | undefined, incoming: string): string {
  const base = (existing?.trim() ? parse(existing) : {}) as KubeconfigFile;
  const add = parse(incoming) as KubeconfigFile;
  const merge = (have: Named[] | null | undefined, more: Named[] | null | undefined) => [
    ...(have ?? []).filter((h) => !(more ?? []).some((m) => m.name === h.name)),
    ...(more ?? []),
  ];
  return stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      ...base,
      clusters: merge(base.clusters, add.clusters),
      contexts: merge(base.contexts, add.contexts),
      users: merge(base.users, add.users),
      'current-context': base['current-context'] || add['current-context'],
    },
    { lineWidth: 0, indentSeq: false },
  );
}
