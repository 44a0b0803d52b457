/** Expiry of every certificate and kubeconfig client certificate below an /etc/kubernetes tree. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CERTIFICATES, KUBECONFIGS } from './catalogue.js';
import { currentCredentials, parseKubeconfig } from './kubeconfig.js';
import { inspectCertificate } from './x509.js';
import type { Host } from '../transport/host.js';
import { KUBELET_CLIENT_CURRENT, KUBELET_PKI_DIR, KUBELET_SERVING_CURRENT, KUBERNETES_DIR } from '../../templates/paths.js';

export interface ExpirationRow {
  readonly node: string;
  readonly name: string;
  readonly kind: 'ca' | 'certificate' | 'kubeconfig';
  readonly expires: string;
  readonly residualDays: number;
  readonly authority: string;
}

const DAY_MS = 86_400_000;

function row(node: string, name: string, kind: ExpirationRow['kind'], certPem: string, authority: string, now: Date): ExpirationRow {
  const facts = inspectCertificate(certPem);
  return {
    node,
    name,
    kind,
    expires: facts.notAfter.toISOString(),
    residualDays: Math.floor((facts.notAfter.getTime() - now.getTime()) / DAY_MS),
    authority,
  };
}

/** Files a node's rows are read from, relative to /etc/kubernetes (kubeconfigs and pki/). */
export const EXPIRATION_FILES: readonly string[] = [...KUBECONFIGS.map((k) => k.file), ...CERTIFICATES.map((c) => `pki/${c.file}.crt`)];

/** The kubelet's own certificates (absolute paths): its rotating client certificate and its serving certificate. */
export const KUBELET_CERTIFICATES: ReadonlyArray<{ readonly name: string; readonly path: string; readonly authority: string }> = [
  { name: 'kubelet client (rotating)', path: KUBELET_CLIENT_CURRENT, authority: 'ca' },
  { name: 'kubelet serving', path: KUBELET_SERVING_CURRENT, authority: 'ca' },
  { name: 'kubelet serving (self-signed)', path: `${KUBELET_PKI_DIR}/kubelet.crt`, authority: 'self' },
];

/** Rows of one node; `read` gives a file's text by its path relative to /etc/kubernetes, or by absolute path. */
export function expirationRowsFrom(node: string, read: (path: string) => string | undefined, now: Date): ExpirationRow[] {
  const rows: ExpirationRow[] = [];
  for (const k of KUBECONFIGS) {
    const text = read(k.file);
    const certPem = text ? currentCredentials(parseKubeconfig(text)).certPem : undefined;
    if (certPem) rows.push(row(node, k.file, 'kubeconfig', certPem, 'ca', now));
  }
  for (const spec of CERTIFICATES) {
    const certPem = read(`pki/${spec.file}.crt`);
    if (!certPem) continue;
    if (spec.ca) rows.push(row(node, spec.name, 'certificate', certPem, spec.ca, now));
    else rows.push(row(node, spec.name, 'ca', certPem, '', now));
  }
  for (const k of KUBELET_CERTIFICATES) {
    const pem = read(k.path);
    if (pem) rows.push(row(node, k.name, 'certificate', pem, k.authority, now));
  }
  return rows;
}

/** A host's rows, its files read in one round trip. */
export async function readExpirationRows(host: Host, node: string, now: Date): Promise<ExpirationRow[]> {
  const paths = [...EXPIRATION_FILES.map((p) => `${KUBERNETES_DIR}/${p}`), ...KUBELET_CERTIFICATES.map((k) => k.path)];
  const files = await host.readFiles(paths);
  return expirationRowsFrom(
    node,
    (path) => files.get(path.startsWith('/') ? path : `${KUBERNETES_DIR}/${path}`)?.content.toString('utf8'),
    now,
  );
}

export function expirationRows(node: string, root: string, now: Date): ExpirationRow[] {
  return expirationRowsFrom(
    node,
    (path) => (!path.startsWith('/') && existsSync(join(root, path)) ? readFileSync(join(root, path), 'utf8') : undefined),
    now,
  );
}

function human(days: number): string {
  if (days < 0) return 'expired';
  if (days >= 365) return `${Math.floor(days / 365)}y`;
  return `${days}d`;
}

export function formatExpiration(rows: readonly ExpirationRow[], warnDays: number): string {
  const withNode = rows.some((r) => r.node);
  const table = (header: string[], body: string[][]) => {
    const all = [header, ...body];
    const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
    return all
      .map((r) =>
        r
          .map((cell, c) => cell.padEnd(widths[c]!))
          .join('   ')
          .trimEnd(),
      )
      .join('\n');
  };
  const mark = (r: ExpirationRow) => (r.residualDays < warnDays ? ' !' : '');
  const byExpiry = [...rows].sort(
    (a, b) => a.expires.localeCompare(b.expires) || a.node.localeCompare(b.node) || a.name.localeCompare(b.name),
  );
  const leaves = byExpiry
    .filter((r) => r.kind !== 'ca')
    .map((r) => [
      ...(withNode ? [r.node] : []),
      r.name,
      r.expires.replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC'),
      `${human(r.residualDays)}${mark(r)}`,
      r.authority,
      'no',
    ]);
  const cas = byExpiry
    .filter((r) => r.kind === 'ca')
    .map((r) => [
      ...(withNode ? [r.node] : []),
      r.name,
      r.expires.replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC'),
      `${human(r.residualDays)}${mark(r)}`,
      'no',
    ]);
  const node = withNode ? ['NODE'] : [];
  const out = [
    table([...node, 'CERTIFICATE', 'EXPIRES', 'RESIDUAL TIME', 'CERTIFICATE AUTHORITY', 'EXTERNALLY MANAGED'], leaves),
    '',
    table([...node, 'CERTIFICATE AUTHORITY', 'EXPIRES', 'RESIDUAL TIME', 'EXTERNALLY MANAGED'], cas),
  ];
  const soon = rows.filter((r) => r.residualDays < warnDays);
  if (soon.length) out.push('', `! ${soon.length} expire within ${warnDays} days: renew with kubestrap certs renew`);
  return out.join('\n');
}
