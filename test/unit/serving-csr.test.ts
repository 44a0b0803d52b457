/** Kubelet serving-certificate requests (ECDSA, as kubelets make them; built with the real openssl) and what kubestrap approves. */
import { expect, test } from 'vitest';
import { parseInventory } from '../../src/inventory/load.js';
import { nodeIdentities } from '../../src/kube/node-marking.js';
import { approvedServingCsr, pendingServingCsrs, requestedNames, servingCsrProblem } from '../../src/kube/serving-csr.js';
import { emptyAttributeRequest } from './crafted-csr.js';
import { kubeletServingRequest } from './openssl.js';

const csrObject = (name: string, node: string, pem: string, approved = false) => ({
  metadata: { name },
  spec: { signerName: 'kubernetes.io/kubelet-serving', username: `system:node:${node}`, request: Buffer.from(pem).toString('base64') },
  status: approved ? { conditions: [{ type: 'Approved' }] } : {},
});

test('the names an ECDSA request asks for, IPv4 and IPv6 included', () => {
  expect(requestedNames(kubeletServingRequest('cp-1', 'DNS:cp-1,IP:10.77.1.10,IP:fd00::1'))).toEqual({
    commonName: 'system:node:cp-1',
    dnsNames: ['cp-1'],
    ips: ['10.77.1.10', 'fd00:0000:0000:0000:0000:0000:0000:0001'],
  });
});

test('only pending kubelet-serving requests from nodes are considered; one naming a foreign address is refused with the reason', () => {
  const own = csrObject('csr-own', 'worker-1', kubeletServingRequest('worker-1', 'DNS:worker-1,IP:10.0.0.11'));
  const foreign = csrObject('csr-foreign', 'worker-2', kubeletServingRequest('worker-2', 'DNS:worker-2,IP:10.0.0.99'));
  const done = csrObject('csr-done', 'worker-1', kubeletServingRequest('worker-1', 'DNS:worker-1'), true);
  const pending = pendingServingCsrs([own, foreign, done]);
  expect(pending.map((c) => c.name)).toEqual(['csr-own', 'csr-foreign']);
  const identities = new Map([
    ['worker-1', { names: ['worker-1'], addresses: ['10.0.0.11'], reserved: [] }],
    ['worker-2', { names: ['worker-2'], addresses: ['10.0.0.12'], reserved: [] }],
  ]);
  expect(servingCsrProblem(pending[0]!, identities.get('worker-1'))).toBeUndefined();
  expect(servingCsrProblem(pending[1]!, identities.get('worker-2'))).toBe("asks for names that are not worker-2's: 10.0.0.99");
  expect(servingCsrProblem(pending[0]!, undefined)).toBe('worker-1 is not a node of the inventory');
  // an approved request counts as handled while the kubelet fetches its certificate
  expect(approvedServingCsr([own, foreign, done], 'worker-1')).toBe(true);
  expect(approvedServingCsr([own, foreign, done], 'worker-2')).toBe(false);
});

const INVENTORY = `apiVersion: kubestrap.dev/v1alpha1
kind: Cluster
hosts:
  - {name: cp-1, address: 10.0.0.10, roles: [control-plane]}
  - {name: worker-1, address: 10.0.0.11, roles: [worker]}
cluster:
  kubernetesVersion: v1.37.1
  controlPlaneEndpoint: api.example.com:6443
  certificates:
    certSANs: [k8s.example.com]
`;

test('H2: a node may name only what the inventory gives it, never its self-reported hostname, the API server, the services or the endpoint', async () => {
  const inv = (await parseInventory(INVENTORY, 'inv.yaml', { checkKeyFiles: false })).inventory;
  const identity = nodeIdentities(inv).get('worker-1')!;
  expect(identity.names).toEqual(['worker-1']);
  const ask = (san: string, cnNode = 'worker-1') =>
    servingCsrProblem(pendingServingCsrs([csrObject(`csr-${san}`, 'worker-1', kubeletServingRequest(cnNode, san))])[0]!, identity);
  expect(ask('DNS:worker-1,IP:10.0.0.11')).toBeUndefined();
  // what a root-compromised worker would set its hostname to, or ask for besides its own name
  for (const name of ['kubernetes.default.svc.cluster.local', 'kubernetes', 'api.example.com', 'k8s.example.com']) {
    expect(ask(`DNS:worker-1,DNS:${name}`), name).toMatch(/names of the API server or the cluster's services/);
  }
  expect(ask('DNS:cp-1')).toBe("asks for names that are not worker-1's: cp-1");
  expect(ask('DNS:worker-1', 'cp-1')).toMatch(/its subject is "system:node:cp-1", not system:node:worker-1/);
});

test('M2: a request kubestrap cannot read is reported, not fatal; an empty extensionRequest attribute is skipped as Go does', () => {
  const crafted = emptyAttributeRequest('worker-1', 1024);
  const garbage = {
    ...csrObject('csr-garbage', 'worker-1', 'x'),
    spec: {
      signerName: 'kubernetes.io/kubelet-serving',
      username: 'system:node:worker-1',
      request: Buffer.from('not a request').toString('base64'),
    },
  };
  const pending = pendingServingCsrs([
    csrObject('csr-empty-attribute', 'worker-1', crafted),
    garbage,
    csrObject('csr-fine', 'worker-1', kubeletServingRequest('worker-1', 'DNS:worker-1')),
  ]);
  expect(pending.map((c) => [c.name, c.dnsNames, c.malformed === undefined])).toEqual([
    ['csr-empty-attribute', ['worker-1'], true],
    ['csr-garbage', [], false],
    ['csr-fine', ['worker-1'], true],
  ]);
  expect(servingCsrProblem(pending[1]!, { names: ['worker-1'], addresses: [], reserved: [] })).toMatch(/^its request cannot be read/);
});
