/** Real etcd (Debian's etcd-server 3.4) for unit tests: kubestrap's generated PKI and kubeadm's flags, on loopback ports. */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const INVENTORY = `apiVersion: kubestrap.dev/v1alpha1
kind: Cluster
hosts:
  - {name: etcd-node, address: 192.168.56.10, roles: [control-plane]}
cluster:
  kubernetesVersion: v1.23.17
`;

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** A control plane's PKI from `kubestrap certs generate`, made in `dir`; its pki directory. */
export function generatedPki(dir: string): string {
  writeFileSync(join(dir, 'inventory.yaml'), INVENTORY);
  execFileSync(process.execPath, ['bin/kubestrap.js', 'certs', 'generate', '-i', join(dir, 'inventory.yaml'), '--out', join(dir, 'out')]);
  return join(dir, 'out', 'etcd-node', 'etc', 'kubernetes', 'pki');
}

/** The TLS flags kubeadm gives etcd (kubeadm-spec §4.8), with the certificates of `pki`. */
export function etcdTlsFlags(pki: string): string[] {
  const file = (name: string) => join(pki, name);
  return [
    '--client-cert-auth=true',
    `--cert-file=${file('etcd/server.crt')}`,
    `--key-file=${file('etcd/server.key')}`,
    `--trusted-ca-file=${file('etcd/ca.crt')}`,
    '--peer-client-cert-auth=true',
    `--peer-cert-file=${file('etcd/peer.crt')}`,
    `--peer-key-file=${file('etcd/peer.key')}`,
    `--peer-trusted-ca-file=${file('etcd/ca.crt')}`,
  ];
}
