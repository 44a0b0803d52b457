/**
 * Bootstrap tokens as the cluster holds them (kube-system Secrets of type
 * bootstrap.kubernetes.io/token): read back, listed in kubeadm's table, created and deleted.
 */
import { parseToken, type BootstrapToken } from '../pki/bootstrap-token.js';
import type { ApiClient } from './api-client.js';

export interface TokenRecord {
  readonly token: BootstrapToken;
  readonly description: string;
  readonly expires?: Date;
  /** Sorted, as kubeadm shows them. */
  readonly usages: readonly string[];
  readonly groups: readonly string[];
}

const TOKEN_SECRETS = '/api/v1/namespaces/kube-system/secrets?fieldSelector=type%3Dbootstrap.kubernetes.io%2Ftoken';
const USAGE_PREFIX = 'usage-bootstrap-';

/** The token a Secret holds, or a reason it holds none (kubeadm skips those with a message). */
export function tokenFromSecret(secret: Record<string, unknown>): TokenRecord | string {
  const name = (secret.metadata as { name?: string } | undefined)?.name ?? '?';
  const data = (secret.data ?? {}) as Record<string, string>;
  const field = (k: string) => (data[k] ? Buffer.from(data[k], 'base64').toString('utf8') : '');
  let token: BootstrapToken;
  try {
    token = parseToken(`${field('token-id')}.${field('token-secret')}`);
  } catch {
    return `Secret ${name} does not hold a valid bootstrap token`;
  }
  const expiration = field('expiration');
  const expires = expiration ? new Date(expiration) : undefined;
  if (expires && Number.isNaN(expires.getTime())) return `Secret ${name}: cannot read its expiration ${JSON.stringify(expiration)}`;
  const usages = Object.keys(data)
    .filter((k) => k.startsWith(USAGE_PREFIX) && field(k) === 'true')
    .map((k) => k.slice(USAGE_PREFIX.length))
    .sort();
  const groups = field('auth-extra-groups').split(',').filter(Boolean);
  return { token, description: field('description'), ...(expires ? { expires } : {}), usages, groups };
}

export async function listTokens(api: ApiClient): Promise<{ tokens: TokenRecord[]; problems: string[] }> {
  const read = (await api.list(TOKEN_SECRETS)).map(tokenFromSecret);
  return {
    tokens: read.filter((r): r is TokenRecord => typeof r !== 'string'),
    problems: read.filter((r): r is string => typeof r === 'string'),
  };
}

/** Deletes the token with this id; false when there was none. */
export function deleteToken(api: ApiClient, id: string): Promise<boolean> {
  return api.delete({ apiVersion: 'v1', kind: 'Secret', namespace: 'kube-system', name: `bootstrap-token-${id}` });
}

/** Go's duration.ShortHumanDuration, which kubeadm uses for the TTL column. */
export function shortHumanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h`;
  if (hours < 24 * 365) return `${Math.floor(hours / 24)}d`;
  return `${Math.floor(hours / 24 / 365)}y`;
}

/** Go's text/tabwriter with kubeadm's settings (min width 10, padding 3); the last cell is not padded. */
function alignColumns(rows: readonly (readonly string[])[]): string {
  const columns = Math.max(...rows.map((r) => r.length)) - 1;
  const widths = Array.from({ length: columns }, (_, c) => Math.max(10, ...rows.map((r) => (r[c]?.length ?? 0) + 3)));
  return rows.map((r) => `${r.map((cell, c) => (c < columns ? cell.padEnd(widths[c]!) : cell)).join('')}\n`).join('');
}

const RFC3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * `kubeadm token list`'s text, character for character: kubeadm pads some cells itself and
 * aligns each token's row on its own (the header only with the first), so rows do not line up
 * across tokens of different widths — reproduced so scripts that parse one parse the other.
 */
export function formatTokenTable(tokens: readonly TokenRecord[], now: Date): string {
  const row = (t: TokenRecord) => [
    `${t.token.id}.${t.token.secret}`,
    (t.expires ? shortHumanDuration(t.expires.getTime() - now.getTime()) : '<forever>').padEnd(9),
    t.expires ? RFC3339(t.expires) : '<never>',
    (t.usages.join(',') || '<none>').padEnd(22),
    (t.description || '<none>').padEnd(56),
    t.groups.join(',') || '<none>',
  ];
  const header = ['TOKEN', 'TTL', 'EXPIRES', 'USAGES', 'DESCRIPTION', 'EXTRA GROUPS'];
  return tokens.map((t, i) => alignColumns(i === 0 ? [header, row(t)] : [row(t)])).join('');
}
