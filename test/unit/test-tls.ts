/**
 * A CA made for the test run (openssl) and a serving certificate for 127.0.0.1 from it: what a
 * site's registry mirror over https looks like. The unit suite's global setup makes them and
 * points NODE_EXTRA_CA_CERTS at the CA, so the test processes and the kubestrap processes they
 * start trust it as a workstation trusts its site's CA.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { issuedCertificate, selfSignedCertificate } from './openssl.js';

export interface TestTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export const testTlsFiles = (dir: string): TestTls => ({
  ca: join(dir, 'ca.crt'),
  cert: join(dir, 'server.crt'),
  key: join(dir, 'server.key'),
});

export function makeTestTls(dir: string): TestTls {
  mkdirSync(dir, { recursive: true });
  const files = testTlsFiles(dir);
  const caKey = join(dir, 'ca.key');
  selfSignedCertificate({ key: caKey, cert: files.ca, subject: '/CN=kubestrap test CA', days: 2 });
  issuedCertificate({
    ca: files.ca,
    caKey,
    key: files.key,
    cert: files.cert,
    subject: '/CN=127.0.0.1',
    days: 2,
    extensions: 'subjectAltName=IP:127.0.0.1,IP:127.0.0.2,DNS:localhost\nextendedKeyUsage=serverAuth\n',
  });
  return files;
}
