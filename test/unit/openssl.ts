/**
 * Certificates made with the real openssl, as the tests need them: a self-signed one (a CA, a
 * forged or stale server certificate) and one a CA issues. Paths are relative to `cwd` when given.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../lab/helpers.js';

interface Certificate {
  readonly key: string;
  readonly cert: string;
  /** openssl's -subj, e.g. /CN=etcd-ca */
  readonly subject: string;
  readonly days: number;
  readonly cwd?: string;
}

const openssl = (args: readonly string[], cwd?: string) => execFileSync('openssl', args, { stdio: 'ignore', ...(cwd ? { cwd } : {}) });

/** A self-signed certificate and its unencrypted key (RSA 2048, or P-256); `extensions` as -addext takes them. */
export function selfSignedCertificate(c: Certificate & { readonly keyType?: 'rsa' | 'ec'; readonly extensions?: readonly string[] }): void {
  const newKey = c.keyType === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'] : ['-newkey', 'rsa:2048'];
  const extensions = (c.extensions ?? []).flatMap((e) => ['-addext', e]);
  openssl(
    ['req', '-x509', ...newKey, '-nodes', '-keyout', c.key, '-out', c.cert, '-days', String(c.days), '-subj', c.subject, ...extensions],
    c.cwd,
  );
}

/** A new RSA key and its certificate from the CA `ca`/`caKey`; `extensions` is the extension file's text (subjectAltName=…). */
export function issuedCertificate(c: Certificate & { readonly ca: string; readonly caKey: string; readonly extensions: string }): void {
  const [csr, extfile] = [`${c.cert}.csr`, `${c.cert}.ext`];
  writeFileSync(c.cwd ? join(c.cwd, extfile) : extfile, c.extensions);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', c.key, '-out', csr, '-subj', c.subject], c.cwd);
  const signed = ['-CA', c.ca, '-CAkey', c.caKey, '-CAcreateserial', '-out', c.cert, '-days', String(c.days), '-extfile', extfile];
  openssl(['x509', '-req', '-in', csr, ...signed], c.cwd);
}

/** A kubelet's serving certificate request as kubelets make them: ECDSA P-256, O=system:nodes, CN=system:node:NODE, the SANs given. */
export function kubeletServingRequest(node: string, subjectAltName: string): string {
  const dir = tempDir('csr');
  openssl(['ecparam', '-genkey', '-name', 'prime256v1', '-noout', '-out', join(dir, 'k.pem')]);
  const subject = `/O=system:nodes/CN=system:node:${node}`;
  openssl([
    'req',
    '-new',
    '-key',
    join(dir, 'k.pem'),
    '-subj',
    subject,
    '-addext',
    `subjectAltName=${subjectAltName}`,
    '-out',
    join(dir, 'r.csr'),
  ]);
  return readFileSync(join(dir, 'r.csr'), 'utf8');
}
