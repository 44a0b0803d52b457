/**
 * The node-local API balancer's pieces: HAProxy's configuration is accepted by HAProxy itself
 * (Debian's 2.6, taken from the e2e lab's image when that was built), the static pod is a valid
 * v1.33 Pod, and /etc/hosts points the API name at the right place per role.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderBlock } from '../../phases/hosts-file.js';
import { haproxyConfig, loadBalancerPod } from '../../templates/api-load-balancer.js';
import { readerOf } from '../../phases/certs-renew.js';
import { tempDir } from '../lab/helpers.js';

const IMAGE = join(process.env.KUBESTRAP_LAB_CACHE ?? '/var/cache/kubestrap-lab', 'images-1.20.2-v2', 'haproxy.tar');
const input = {
  listenPort: 6443,
  apiServers: [
    { name: 'cp-1', address: '10.0.0.1', port: 6443 },
    { name: 'cp-2', address: 'fd00::2', port: 6443 },
  ],
  image: 'registry.local/haproxy:2.6',
};

describe('node-local API load balancer', () => {
  it('checks every API server with GET /readyz over TLS (ready, informers synced) and listens on loopback only', () => {
    const config = haproxyConfig(input);
    expect(config).toContain('  bind 127.0.0.1:6443\n');
    expect(config).toContain('  server cp-1 10.0.0.1:6443 check check-ssl verify none\n');
    expect(config).toContain('  server cp-2 [fd00::2]:6443 check check-ssl verify none\n');
    expect(config).toContain('  option httpchk GET /readyz\n');
    expect(config).toContain('  option redispatch\n');
  });

  it.skipIf(!existsSync(IMAGE))("is accepted by HAProxy's own configuration check (haproxy -c, the lab image's binary)", () => {
    const dir = tempDir('haproxy');
    execFileSync('tar', ['-xf', IMAGE, '-C', dir]);
    const root = join(dir, 'root');
    execFileSync('mkdir', ['-p', root]);
    execFileSync('tar', ['-xf', join(dir, 'layer.tar'), '-C', root]);
    writeFileSync(join(root, 'tmp', 'haproxy.cfg'), haproxyConfig(input));
    const out = execFileSync('chroot', [root, '/usr/sbin/haproxy', '-c', '-f', '/tmp/haproxy.cfg'], { encoding: 'utf8' });
    expect(out).toMatch(/Configuration file is valid/);
  });

  it('runs as a host-network static pod mounting the configuration read-only, with a liveness check on its monitor URI', () => {
    const pod = loadBalancerPod(input);
    expect(pod.spec.hostNetwork).toBe(true);
    const c = pod.spec.containers[0]!;
    expect(c.command).toEqual(['haproxy', '-f', '/usr/local/etc/haproxy/haproxy.cfg']);
    expect(c.volumeMounts).toEqual([{ name: 'haproxy-config', mountPath: '/usr/local/etc/haproxy/haproxy.cfg', readOnly: true }]);
    expect(pod.spec.volumes).toEqual([{ name: 'haproxy-config', hostPath: { path: '/etc/kubestrap/haproxy.cfg', type: 'File' } }]);
    expect(c.livenessProbe?.httpGet).toEqual({ host: '127.0.0.1', path: '/healthz', port: 8404, scheme: 'HTTP' });
  });

  it('/etc/hosts: the API name is the node itself on a control plane, loopback on a worker', () => {
    const hosts = [{ name: 'cp-1', nodeName: 'cp-1', advertiseAddress: '10.0.0.1' }] as Parameters<typeof renderBlock>[0];
    expect(renderBlock(hosts, { name: 'lb.kubestrap.local', address: '127.0.0.1' }).split('\n').slice(1, -1)).toEqual([
      '10.0.0.1\tcp-1',
      '127.0.0.1\tlb.kubestrap.local',
    ]);
    expect(renderBlock(hosts).split('\n')).toHaveLength(3);
  });

  it('certs renew restarts what reads each renewed file', () => {
    expect(
      [
        '/etc/kubernetes/pki/etcd/server.crt',
        '/etc/kubernetes/pki/apiserver.crt',
        '/etc/kubernetes/pki/front-proxy-client.key',
        '/etc/kubernetes/controller-manager.conf',
        '/etc/kubernetes/scheduler.conf',
        '/etc/kubernetes/kubelet.conf',
        '/etc/kubernetes/admin.conf',
      ].map(readerOf),
    ).toEqual(['etcd', 'kube-apiserver', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', undefined]);
  });
});
