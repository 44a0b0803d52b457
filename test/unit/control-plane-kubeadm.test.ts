/**
 * The 1.20 static-pod manifests compared with what the reference kubeadm 1.20.2 (built by
 * test/e2e/build-kubernetes.sh; skipped where it has not been built) writes for the same
 * configuration, object for object, through its --rootfs option into a scratch directory.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { controlPlanePods, manifestYaml } from '../../templates/control-plane.js';
import { kubeadmDefaultControlPlane } from './control-plane-input.js';
import { tempDir } from '../lab/helpers.js';

const KUBEADM = join(process.env.KUBESTRAP_LAB_CACHE ?? '/var/cache/kubestrap-lab', 'kubernetes-1.20.2', 'bin', 'kubeadm');

describe.skipIf(!existsSync(KUBEADM))('static-pod manifests vs the reference kubeadm 1.20.2', () => {
  test('etcd, kube-apiserver, kube-controller-manager and kube-scheduler equal kubeadm 1.20.2 output field for field', () => {
    const root = tempDir('kubeadm-manifests');
    mkdirSync(join(root, 'tmp'));
    const config = `apiVersion: kubeadm.k8s.io/v1beta2
kind: InitConfiguration
localAPIEndpoint: {advertiseAddress: 10.77.1.10, bindPort: 6443}
nodeRegistration: {criSocket: /run/containerd/containerd.sock, name: cp-1}
---
apiVersion: kubeadm.k8s.io/v1beta2
kind: ClusterConfiguration
kubernetesVersion: v1.20.2
imageRepository: registry.local
etcd: {local: {imageTag: 3.4.23}}
networking: {podSubnet: 10.244.0.0/16}
`;
    writeFileSync(join(root, 'tmp', 'config.yaml'), config);
    for (const phase of [
      ['control-plane', 'all'],
      ['etcd', 'local'],
    ]) {
      execFileSync(KUBEADM, ['init', 'phase', ...phase, '--config', '/tmp/config.yaml', '--rootfs', root], { stdio: 'ignore' });
    }
    const ours = controlPlanePods(kubeadmDefaultControlPlane({ advertiseAddress: '10.77.1.10' }));
    for (const [name, pod] of Object.entries(ours)) {
      const theirs = parse(readFileSync(join(root, 'etc/kubernetes/manifests', `${name}.yaml`), 'utf8'));
      expect(parse(manifestYaml(pod)), name).toEqual(theirs);
    }
  });
});
