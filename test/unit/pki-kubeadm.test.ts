/**
 * The reference kubeadm (1.20.2, built from Debian's source by test/e2e/build-kubernetes.sh)
 * pointed at kubestrap's PKI: it must reuse every certificate, key and kubeconfig as its own.
 * Skipped where that build has not run (it takes 10–25 minutes once, then is cached).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../lab/helpers.js';

const KUBEADM = join(process.env.KUBESTRAP_LAB_CACHE ?? '/var/cache/kubestrap-lab', 'kubernetes-1.20.2', 'bin', 'kubeadm');

describe.skipIf(!existsSync(KUBEADM))("kubeadm 1.20.2 reuses kubestrap's PKI (needs test/e2e/build-kubernetes.sh)", () => {
  it('"Using existing" for every certificate, the sa key and every kubeconfig', () => {
    const dir = tempDir('kubeadm');
    writeFileSync(
      join(dir, 'inventory.yaml'),
      `apiVersion: kubestrap.dev/v1alpha1
kind: Cluster
hosts:
  - {name: cp-1, address: 192.168.56.10, roles: [control-plane]}
cluster:
  name: lab-cluster
  kubernetesVersion: v1.20.2
  controlPlaneEndpoint: k8s-api.example.com:8443
  certificates:
    certSANs: [10.0.0.100, api.example.org]
`,
    );
    execFileSync(process.execPath, ['bin/kubestrap.js', 'certs', 'generate', '-i', join(dir, 'inventory.yaml'), '--out', join(dir, 'out')]);
    const root = join(dir, 'out', 'cp-1', 'etc', 'kubernetes');
    writeFileSync(
      join(dir, 'kubeadm.yaml'),
      `apiVersion: kubeadm.k8s.io/v1beta2
kind: InitConfiguration
localAPIEndpoint: {advertiseAddress: 192.168.56.10, bindPort: 6443}
nodeRegistration: {name: cp-1}
---
apiVersion: kubeadm.k8s.io/v1beta2
kind: ClusterConfiguration
kubernetesVersion: v1.20.2
clusterName: lab-cluster
controlPlaneEndpoint: k8s-api.example.com:8443
certificatesDir: ${root}/pki
networking: {serviceSubnet: 10.96.0.0/12, dnsDomain: cluster.local}
apiServer: {certSANs: [10.0.0.100, api.example.org]}
`,
    );
    const certs = execFileSync(KUBEADM, ['init', 'phase', 'certs', 'all', '--config', join(dir, 'kubeadm.yaml')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const ca of ['ca', 'front-proxy-ca', 'etcd/ca']) expect(certs).toContain(`[certs] Using existing ${ca} certificate authority`);
    for (const leaf of [
      'apiserver',
      'apiserver-kubelet-client',
      'front-proxy-client',
      'etcd/server',
      'etcd/peer',
      'etcd/healthcheck-client',
      'apiserver-etcd-client',
    ]) {
      expect(certs).toContain(`[certs] Using existing ${leaf} certificate and key on disk`);
    }
    expect(certs).toContain('[certs] Using the existing "sa" key');
    const kubeconfigs = execFileSync(
      KUBEADM,
      ['init', 'phase', 'kubeconfig', 'all', '--config', join(dir, 'kubeadm.yaml'), '--kubeconfig-dir', root],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    for (const file of ['admin.conf', 'kubelet.conf', 'controller-manager.conf', 'scheduler.conf'])
      expect(kubeconfigs).toContain(`[kubeconfig] Using existing kubeconfig file: "${root}/${file}"`);
  });
});
