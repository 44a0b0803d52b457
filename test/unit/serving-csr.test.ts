/** Kubelet serving-certificate requests (ECDSA, as kubelets make them; built with the real openssl) and what kubestrap approves. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { approvedServingCsr, pendingServingCsrs, requestedNames, servingCsrProblem } from '../../src/kube/serving-csr.js';

function ecdsaRequest(node: string, san: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'kubestrap-csr-'));
  execFileSync('openssl', ['ecparam', '-genkey', '-name', 'prime256v1', '-noout', '-out', join(dir, 'k.pem')]);
  execFileSync('openssl', ['req', '-new', '-key', join(dir, 'k.pem'), '-subj', `/O=system:nodes/CN=system:node:${node}`, '-addext', `subjectAltName=${san}`, '-out', join(dir, 'r.csr')]);
  return readFileSync(join(dir, 'r.csr'), 'utf8');
}

const csrObject = (name: string, node: string, pem: string, approved = false) => ({
  metadata: { name },
  spec: { signerName: 'kubernetes.io/kubelet-serving', username: `system:node:${node}`, request: Buffer.from(pem).toString('base64') },
  status: approved ? { conditions: [{ type: 'Approved' }] } : {},
});

test('the names an ECDSA request asks for, IPv4 and IPv6 included', () => {
  expect(requestedNames(ecdsaRequest('cp-1', 'DNS:cp-1,IP:10.77.1.10,IP:fd00::1'))).toEqual({ dnsNames: ['cp-1'], ips: ['10.77.1.10', 'fd00:0000:0000:0000:0000:0000:0000:0001'] });
});

test('only pending kubelet-serving requests from nodes are considered; one naming a foreign address is refused with the reason', () => {
  const own = csrObject('csr-own', 'worker-1', ecdsaRequest('worker-1', 'DNS:worker-1,IP:10.0.0.11'));
  const foreign = csrObject('csr-foreign', 'worker-2', ecdsaRequest('worker-2', 'DNS:worker-2,IP:10.0.0.99'));
  const done = csrObject('csr-done', 'worker-1', ecdsaRequest('worker-1', 'DNS:worker-1'), true);
  const pending = pendingServingCsrs([own, foreign, done]);
  expect(pending.map((c) => c.name)).toEqual(['csr-own', 'csr-foreign']);
  const identities = new Map([
    ['worker-1', { names: ['worker-1'], addresses: ['10.0.0.11'] }],
    ['worker-2', { names: ['worker-2'], addresses: ['10.0.0.12'] }],
  ]);
  expect(servingCsrProblem(pending[0]!, identities.get('worker-1'))).toBeUndefined();
  expect(servingCsrProblem(pending[1]!, identities.get('worker-2'))).toBe("asks for names that are not worker-2's: 10.0.0.99");
  expect(servingCsrProblem(pending[0]!, undefined)).toBe('worker-1 is not a node of the inventory');
  // an approved request counts as handled while the kubelet fetches its certificate
  expect(approvedServingCsr([own, foreign, done], 'worker-1')).toBe(true);
  expect(approvedServingCsr([own, foreign, done], 'worker-2')).toBe(false);
});
