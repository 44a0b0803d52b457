/** Before unit tests: the test run's CA for servers on loopback over https (test-tls.ts), trusted by every process the tests start. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTestTls } from './test-tls.js';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'kubestrap-test-tls-'));
  const tls = makeTestTls(dir);
  process.env.NODE_EXTRA_CA_CERTS = tls.ca;
  process.env.KUBESTRAP_TEST_TLS = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
