import { describe, expect, it } from 'vitest';
import { requiredPorts } from '../../phases/firewall.js';
import { renderLimits } from '../../phases/limits.js';
import { permissiveConfig } from '../../phases/selinux.js';
import { renderContainerdConfig, renderHostsToml } from '../../templates/containerd.js';
import { requiredModules } from '../../templates/kernel-modules.js';
import { aptRepo, packageVersion, rpmRepo } from '../../templates/kube-repos.js';
import { pauseTag, sandboxImage } from '../../templates/versions.js';

describe('package repositories', () => {
  it('pkgs.k8s.io layout, signed', () => {
    const apt = aptRepo({ base: 'https://pkgs.k8s.io', layout: 'pkgs.k8s.io', minor: 30, unsigned: false });
    expect(apt.content).toContain('deb [signed-by=/etc/apt/keyrings/kubernetes.asc] https://pkgs.k8s.io/core:/stable:/v1.30/deb/ /');
    expect(apt.key).toEqual({ url: 'https://pkgs.k8s.io/core:/stable:/v1.30/deb/Release.key', path: '/etc/apt/keyrings/kubernetes.asc' });
    const rpm = rpmRepo({ base: 'https://pkgs.k8s.io', layout: 'pkgs.k8s.io', minor: 30, unsigned: false });
    expect(rpm.content).toContain('baseurl=https://pkgs.k8s.io/core:/stable:/v1.30/rpm/');
    expect(rpm.content).toContain('gpgkey=https://pkgs.k8s.io/core:/stable:/v1.30/rpm/repodata/repomd.xml.key');
    expect(rpm.content).toContain('exclude=kubelet kubeadm kubectl cri-tools kubernetes-cni');
  });

  it('the legacy layout of the Aliyun mirror, as the 1.23 runbook uses it', () => {
    const apt = aptRepo({ base: 'https://mirrors.aliyun.com/kubernetes/', layout: 'legacy', minor: 23, unsigned: false });
    expect(apt.content).toContain(
      'deb [signed-by=/etc/apt/keyrings/kubernetes.gpg] https://mirrors.aliyun.com/kubernetes/apt/ kubernetes-xenial main',
    );
    const rpm = rpmRepo({ base: 'https://mirrors.aliyun.com/kubernetes', layout: 'legacy', minor: 23, unsigned: false });
    expect(rpm.content).toContain('baseurl=https://mirrors.aliyun.com/kubernetes/yum/repos/kubernetes-el7-$basearch/');
    expect(packageVersion('v1.23.17', 'legacy', true)).toBe('1.23.17-00');
    expect(packageVersion('v1.23.17', 'legacy', false)).toBe('1.23.17-0');
    expect(packageVersion('v1.30.4', 'pkgs.k8s.io', true)).toBe('1.30.4-*');
  });

  it('unsigned internal mirrors are trusted explicitly, with no key', () => {
    expect(aptRepo({ base: 'http://mirror.local', layout: 'pkgs.k8s.io', minor: 23, unsigned: true })).toEqual({
      path: '/etc/apt/sources.list.d/kubernetes.list',
      content: '# Managed by kubestrap: Kubernetes 1.23 packages\ndeb [trusted=yes] http://mirror.local/core:/stable:/v1.23/deb/ /\n',
    });
    expect(rpmRepo({ base: 'http://mirror.local', layout: 'legacy', minor: 23, unsigned: true }).content).toContain('gpgcheck=0');
  });
});

describe('containerd', () => {
  it('uses the mirror for the sandbox image, per release', () => {
    expect(sandboxImage('registry.cn-hangzhou.aliyuncs.com/google_containers', 23)).toBe(
      'registry.cn-hangzhou.aliyuncs.com/google_containers/pause:3.6',
    );
    expect(sandboxImage('registry.local', 20)).toBe('registry.local/pause:3.2');
    expect(pauseTag(33)).toBe('3.10');
    expect(() => pauseTag(19)).toThrow(/no pause image/);
  });

  it('renders the cgroup driver and mirrors', () => {
    const config = renderContainerdConfig({ sandboxImage: 'r/pause:3.9', systemdCgroup: false, restrictOOMScoreAdj: true });
    expect(config).toMatch(/SystemdCgroup = false/);
    expect(config).toMatch(/restrict_oom_score_adj = true/);
    expect(renderHostsToml('docker.io', ['https://a', 'https://b'])).toBe(
      '# Managed by kubestrap: mirrors for docker.io\nserver = "https://registry-1.docker.io"\n\n[host."https://a"]\n  capabilities = ["pull", "resolve"]\n\n[host."https://b"]\n  capabilities = ["pull", "resolve"]\n',
    );
  });
});

describe('host settings', () => {
  it('kernel modules by mode and kernel age', () => {
    expect(requiredModules({ ipvs: false, kernelBefore419: false, extra: [] })).toEqual(['overlay', 'br_netfilter']);
    expect(requiredModules({ ipvs: true, kernelBefore419: true, extra: ['dm_thin_pool'] })).toEqual([
      'overlay',
      'br_netfilter',
      'ip_vs',
      'ip_vs_rr',
      'ip_vs_wrr',
      'ip_vs_sh',
      'nf_conntrack_ipv4',
      'dm_thin_pool',
    ]);
  });

  it('SELinux config becomes permissive and nothing else changes', () => {
    const config = '# comment\nSELINUX=enforcing\nSELINUXTYPE=targeted\n';
    expect(permissiveConfig(config)).toBe('# comment\nSELINUX=permissive\nSELINUXTYPE=targeted\n');
  });

  it('firewall ports per role', () => {
    expect(requiredPorts(true, false)).toEqual(['10250', '6443', '2379-2380', '10257', '10259', '8472/udp']);
    expect(requiredPorts(false, true)).toEqual(['10250', '10256', '30000-32767', '8472/udp']);
  });

  it('limits file', () => {
    expect(renderLimits({ nofile: '655360', nproc: '655360', memlock: 'unlimited' })).toContain('* hard memlock unlimited');
  });
});

it('the kernel-ml repository is signature-checked (audit L8)', async () => {
  const { kernelRepo } = await import('../../templates/kube-repos.js');
  const repo = kernelRepo('https://elrepo.org/linux/kernel/el7/$basearch/', 'https://www.elrepo.org/RPM-GPG-KEY-v2-elrepo.org');
  expect(repo).toContain('gpgcheck=1\ngpgkey=https://www.elrepo.org/RPM-GPG-KEY-v2-elrepo.org\n');
  expect(repo).not.toContain('gpgcheck=0');
});
