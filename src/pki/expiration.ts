/** Expiry of every certificate and kubeconfig client certificate below an /etc/kubernetes tree. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CERTIFICATES, KUBECONFIGS } from './catalogue.js';
import { currentCredentials, parseKubeconfig } from './kubeconfig.js';
import { inspectCertificate } from './x509.js';

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
  return { node, name, kind, expires: facts.notAfter.toISOString(), residualDays: Math.floor((facts.notAfter.getTime() - now.getTime()) / DAY_MS), authority };
}

export function expirationRows(node: string, root: string, now: Date): ExpirationRow[] {
  const rows: ExpirationRow[] = [];
  const read = (path: string) => (existsSync(join(root, path)) ? readFileSync(join(root, path), 'utf8') : undefined);
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
  return rows;
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
    return all.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('   ').trimEnd()).join('\n');
  };
  const mark = (r: ExpirationRow) => (r.residualDays < warnDays ? ' !' : '');
  const leaves = rows.filter((r) => r.kind !== 'ca').map((r) => [...(withNode ? [r.node] : []), r.name, r.expires.replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC'), `${human(r.residualDays)}${mark(r)}`, r.authority, 'no']);
  const cas = rows.filter((r) => r.kind === 'ca').map((r) => [...(withNode ? [r.node] : []), r.name, r.expires.replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC'), `${human(r.residualDays)}${mark(r)}`, 'no']);
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
