/**
 * kubestrap adopt's readers and its inventory: kubeadm-config as kubeadm 1.20 (v1beta2 with
 * ClusterStatus), 1.22–1.30 (v1beta3) and 1.31+ (v1beta4) write it, containerd's config in
 * versions 1, 2 and 3, package repository files, and the inventory that comes out — which the
 * same reader plan and apply use must accept.
 */
import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/load.js';
import { readKubeadmConfig, KubeadmConfigError } from '../../src/kube/kubeadm-config.js';
import { readContainerdConfig } from '../../src/adopt/containerd-config.js';
import { readPackageSource } from '../../src/adopt/package-source.js';
import { nodeReading, type ClusterReading } from '../../src/adopt/read-cluster.js';
import { handEditedFlags, renderAdoptedInventory, type AdoptInput } from '../../src/adopt/adopted-inventory.js';
import type { Pod } from '../../templates/objects.js';

// kubeadm 1.20.2's kubeadm-config, as `kubeadm init` stores it (defaulted; ClusterStatus beside it)
const V1BETA2 = {
  ClusterConfiguration: `apiServer:
  extraArgs:
    authorization-mode: Node,RBAC
    audit-log-maxage: "30"
  extraVolumes:
  - hostPath: /var/log/kubernetes
    mountPath: /var/log/kubernetes
    name: audit
    pathType: DirectoryOrCreate
  timeoutForControlPlane: 4m0s
apiVersion: kubeadm.k8s.io/v1beta2
certificatesDir: /etc/kubernetes/pki
clusterName: kubernetes
controllerManager: {}
dns:
  type: CoreDNS
etcd:
  local:
    dataDir: /var/lib/etcd
    imageTag: 3.4.13-0
imageRepository: registry.cn-hangzhou.aliyuncs.com/google_containers
kind: ClusterConfiguration
kubernetesVersion: v1.20.2
networking:
  dnsDomain: cluster.local
  podSubnet: 172.168.0.0/16
  serviceSubnet: 10.96.0.0/12
scheduler: {}
`,
  ClusterStatus: `apiEndpoints:
  k8s-master01:
    advertiseAddress: 192.168.1.100
    bindPort: 6443
apiVersion: kubeadm.k8s.io/v1beta2
kind: ClusterStatus
`,
};

const V1BETA4 = `apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.33.1
caCertificateValidityPeriod: 87600h0m0s
certificateValidityPeriod: 4380h0m0s
encryptionAlgorithm: RSA-3072
controlPlaneEndpoint: k8s-api.example.com:6443
apiServer:
  certSANs: [k8s-api.example.com]
  extraArgs:
  - {name: audit-log-maxage, value: "30"}
  - {name: v, value: "2"}
  - {name: v, value: "4"}
  extraEnvs:
  - {name: HTTPS_PROXY, value: "http://proxy:3128"}
controllerManager: {}
scheduler: {}
etcd: {local: {dataDir: /var/lib/etcd}}
networking: {serviceSubnet: 10.96.0.0/12, podSubnet: 10.244.0.0/16, dnsDomain: cluster.local}
`;

describe('kubeadm-config from every kubeadm API version since 1.20', () => {
  it('v1beta2 (kubeadm 1.20): map extraArgs, extra volumes, the etcd tag, the ClusterStatus endpoints', () => {
    const c = readKubeadmConfig(V1BETA2);
    expect(c).toMatchObject({
      apiVersion: 'kubeadm.k8s.io/v1beta2',
      kubernetesVersion: 'v1.20.2',
      imageRepository: 'registry.cn-hangzhou.aliyuncs.com/google_containers',
      networking: { podSubnet: '172.168.0.0/16', serviceSubnet: '10.96.0.0/12', dnsDomain: 'cluster.local' },
    });
    expect(c.apiServer.extraArgs).toEqual({ 'authorization-mode': 'Node,RBAC', 'audit-log-maxage': '30' });
    expect(c.apiServer.extraVolumes).toEqual([
      { name: 'audit', hostPath: '/var/log/kubernetes', mountPath: '/var/log/kubernetes', readOnly: false, pathType: 'DirectoryOrCreate' },
    ]);
    expect(c.etcd).toMatchObject({ kind: 'local', imageTag: '3.4.13-0', dataDir: '/var/lib/etcd' });
    expect(c.apiEndpoints).toEqual({ 'k8s-master01': '192.168.1.100' });
  });

  it('v1beta3 (kubeadm 1.22–1.30) without imageRepository: the default of the release (k8s.gcr.io before 1.25)', () => {
    const c = readKubeadmConfig({
      ClusterConfiguration: 'apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nkubernetesVersion: v1.23.17\n',
    });
    expect([c.imageRepository, c.clusterName, c.networking.serviceSubnet, c.apiEndpoints]).toEqual([
      'k8s.gcr.io',
      'kubernetes',
      '10.96.0.0/12',
      undefined,
    ]);
    expect(
      readKubeadmConfig({
        ClusterConfiguration: 'apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nkubernetesVersion: v1.28.2\n',
      }).imageRepository,
    ).toBe('registry.k8s.io');
  });

  it('v1beta4 (kubeadm 1.31+): list extraArgs (a repeated flag keeps its last value), extraEnvs, the PKI settings', () => {
    const c = readKubeadmConfig({ ClusterConfiguration: V1BETA4 });
    expect(c.apiServer.extraArgs).toEqual({ 'audit-log-maxage': '30', v: '4' });
    expect(c.apiServer.extraEnvs).toEqual([{ name: 'HTTPS_PROXY', value: 'http://proxy:3128' }]);
    expect(c).toMatchObject({
      certificateValidityPeriod: '4380h0m0s',
      caCertificateValidityPeriod: '87600h0m0s',
      encryptionAlgorithm: 'RSA-3072',
      controlPlaneEndpoint: 'k8s-api.example.com:6443',
      certSANs: ['k8s-api.example.com'],
    });
  });

  it('external etcd is read as such; a document kubestrap cannot read is refused with the reason', () => {
    const external = readKubeadmConfig({
      ClusterConfiguration:
        'apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nkubernetesVersion: v1.28.2\netcd:\n  external:\n    endpoints: [https://10.0.0.5:2379]\n    caFile: /etc/etcd/ca.crt\n',
    });
    expect(external.etcd).toEqual({ kind: 'external', endpoints: ['https://10.0.0.5:2379'], caFile: '/etc/etcd/ca.crt' });
    expect(() => readKubeadmConfig({})).toThrow(KubeadmConfigError);
    expect(() =>
      readKubeadmConfig({
        ClusterConfiguration: 'apiVersion: kubeadm.k8s.io/v1beta1\nkind: ClusterConfiguration\nkubernetesVersion: v1.14.0\n',
      }),
    ).toThrow(/v1beta1 is not one kubestrap reads/);
    expect(() =>
      readKubeadmConfig({
        ClusterConfiguration:
          'apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\napiServer: {extraArgs: [oops]}\nkubernetesVersion: v1.33.0\n',
      }),
    ).toThrow(/apiServer.extraArgs\[0\]: expected \{name, value\}/);
  });
});

describe("containerd's configuration", () => {
  it('version 2 (containerd 1.6/1.7): SystemdCgroup, sandbox_image, restrict_oom_score_adj and certs.d mirrors', () => {
    const toml = `version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.cn-hangzhou.aliyuncs.com/google_containers/pause:3.6"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    SystemdCgroup = true
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "/etc/containerd/certs.d"
`;
    const hosts = new Map([
      ['docker.io', 'server = "https://registry-1.docker.io"\n[host."https://mirror.example.com"]\n  capabilities = ["pull", "resolve"]\n'],
    ]);
    expect(readContainerdConfig(toml, hosts)).toEqual({
      cgroupDriver: 'systemd',
      sandboxImage: 'registry.cn-hangzhou.aliyuncs.com/google_containers/pause:3.6',
      restrictOOMScoreAdj: true,
      registryMirrors: { 'docker.io': ['https://mirror.example.com'] },
    });
  });

  it("version 3 (containerd 2.x): pinned_images.sandbox and the runtime plugin's options", () => {
    const toml = `version = 3
[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = "registry.local/pause:3.10"
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  SystemdCgroup = true
`;
    expect(readContainerdConfig(toml)).toEqual({
      cgroupDriver: 'systemd',
      sandboxImage: 'registry.local/pause:3.10',
      restrictOOMScoreAdj: false,
      registryMirrors: {},
    });
  });

  it("version 1 with the old registry.mirrors table; no file at all is containerd's defaults", () => {
    const toml = `[plugins.cri]\n  sandbox_image = "k8s.gcr.io/pause:3.2"\n[plugins.cri.registry.mirrors."docker.io"]\n  endpoint = ["https://docker.mirrors.ustc.edu.cn"]\n`;
    expect(readContainerdConfig(toml)).toEqual({
      cgroupDriver: 'cgroupfs',
      sandboxImage: 'k8s.gcr.io/pause:3.2',
      restrictOOMScoreAdj: false,
      registryMirrors: { 'docker.io': ['https://docker.mirrors.ustc.edu.cn'] },
    });
    expect(readContainerdConfig(undefined)).toEqual({ cgroupDriver: 'cgroupfs', restrictOOMScoreAdj: false, registryMirrors: {} });
  });
});

describe('package repository files', () => {
  it.each([
    [
      'deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/v1.28/deb/ /',
      { source: 'upstream', mirrorLayout: 'pkgs.k8s.io', unsigned: false },
    ],
    [
      'deb [trusted=yes] http://10.0.0.1:8080/core:/stable:/v1.20/deb/ /',
      { source: 'mirror', mirror: 'http://10.0.0.1:8080', mirrorLayout: 'pkgs.k8s.io', unsigned: true },
    ],
    [
      'deb https://mirrors.aliyun.com/kubernetes/apt/ kubernetes-xenial main',
      { source: 'mirror', mirror: 'https://mirrors.aliyun.com/kubernetes', mirrorLayout: 'legacy', unsigned: false },
    ],
    [
      '[kubernetes]\nname=Kubernetes\nbaseurl=https://mirrors.aliyun.com/kubernetes/yum/repos/kubernetes-el7-x86_64/\nenabled=1\ngpgcheck=0\n',
      { source: 'mirror', mirror: 'https://mirrors.aliyun.com/kubernetes', mirrorLayout: 'legacy', unsigned: true },
    ],
    ['[kubernetes]\nbaseurl=https://mirrors.aliyun.com/kubernetes-new/core/stable/v1.28/rpm/\n', undefined],
  ])('%s', (text, expected) => {
    expect(readPackageSource(text)).toEqual(expected);
  });
});

const node = (
  name: string,
  ip: string,
  labels: Record<string, string>,
  taints: Array<{ key: string; effect: string; value?: string }> = [],
) => ({
  metadata: {
    name,
    labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'beta.kubernetes.io/arch': 'amd64', ...labels },
  },
  spec: { taints },
  status: {
    addresses: [
      { type: 'InternalIP', address: ip },
      { type: 'Hostname', address: name },
    ],
    nodeInfo: { kubeletVersion: 'v1.20.2' },
  },
});

describe('Nodes', () => {
  it("roles from kubeadm's labels; the kubelet's labels, kubeadm's role marks and the node controller's taints are not the operator's", () => {
    const cp = nodeReading(
      node(
        'k8s-master01',
        '192.168.1.100',
        {
          'node-role.kubernetes.io/master': '',
          'node-role.kubernetes.io/control-plane': '',
          'node.kubernetes.io/exclude-from-external-load-balancers': '',
        },
        [{ key: 'node-role.kubernetes.io/master', effect: 'NoSchedule' }],
      ),
    );
    expect(cp).toEqual({
      name: 'k8s-master01',
      internalIp: '192.168.1.100',
      kubeletVersion: 'v1.20.2',
      controlPlane: true,
      untainted: false,
      labels: {},
      taints: [],
    });
    const worker = nodeReading(
      node('k8s-node01', '192.168.1.101', { 'node-role.kubernetes.io/worker': '', pool: 'gpu' }, [
        { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' },
        { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' },
      ]),
    );
    expect(worker).toMatchObject({
      controlPlane: false,
      labels: { 'node-role.kubernetes.io/worker': '', pool: 'gpu' },
      taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }],
    });
    expect(nodeReading(node('cp', '10.0.0.1', { 'node-role.kubernetes.io/control-plane': '' })).untainted).toBe(true);
  });
});

const pod = (command: string[]): Pod =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'kube-apiserver', namespace: 'kube-system' },
    spec: { containers: [{ name: 'kube-apiserver', image: 'x', imagePullPolicy: 'IfNotPresent', command }] },
  }) as unknown as Pod;

it("flags edited into a manifest by hand (new, or with another value) are what kubestrap's rendering lacks", () => {
  const rendered = pod(['kube-apiserver', '--advertise-address=10.0.0.1', '--secure-port=6443', '--authorization-mode=Node,RBAC']);
  const live = pod([
    'kube-apiserver',
    '--advertise-address=10.0.0.1',
    '--secure-port=6443',
    '--authorization-mode=Node,RBAC,Webhook',
    '--audit-log-path=/var/log/kubernetes/audit.log',
    '--profiling',
  ]);
  expect(handEditedFlags(live, rendered)).toEqual({
    'authorization-mode': 'Node,RBAC,Webhook',
    'audit-log-path': '/var/log/kubernetes/audit.log',
    profiling: 'true',
  });
});

describe('the adopted inventory', () => {
  const cluster: ClusterReading = {
    kubeadm: readKubeadmConfig(V1BETA2),
    kubelet: { cgroupDriver: 'systemd', serverTLSBootstrap: false },
    kubeProxy: { mode: 'ipvs', ipvsScheduler: 'rr' },
    addons: { coreDNS: true, kubeProxy: true, metricsServer: false, metricsServerInsecureTLS: false },
    cni: { plugin: 'calico', daemonSets: ['kube-system/calico-node'] },
    nodes: [],
    manifests: new Map(),
    pki: { keyType: 'RSA-2048', apiServerSans: [], caValidityHours: 87600 },
    controlPlaneHost: {
      containerd: {
        cgroupDriver: 'systemd',
        sandboxImage: 'registry.cn-hangzhou.aliyuncs.com/google_containers/pause:3.2',
        restrictOOMScoreAdj: false,
        registryMirrors: {},
      },
      packages: { source: 'mirror', mirror: 'https://mirrors.aliyun.com/kubernetes', mirrorLayout: 'legacy', unsigned: false },
    },
  };
  const cpNode = nodeReading(
    node('k8s-master01', '192.168.1.100', { 'node-role.kubernetes.io/master': '' }, [
      { key: 'node-role.kubernetes.io/master', effect: 'NoSchedule' },
    ]),
  );
  const w1 = nodeReading(node('k8s-node01', '192.168.1.101', { pool: 'general' }));
  const w2 = nodeReading(node('k8s-node02', '192.168.1.102', {}));
  const input: AdoptInput = {
    cluster: { ...cluster, nodes: [cpNode, w1, w2] },
    login: { user: 'root', port: 22, keyPath: '~/.ssh/id_rsa' },
    hosts: [
      {
        node: cpNode,
        address: '192.168.1.100',
        hostKey: 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s',
        reading: cluster.controlPlaneHost,
      },
      {
        node: w1,
        address: '192.168.1.101',
        hostKey: 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2t',
        hostname: 'node01.example.com',
        reading: { containerd: { ...cluster.controlPlaneHost.containerd, cgroupDriver: 'cgroupfs' } },
      },
    ],
    leftOut: [{ node: w2, why: 'not asked for (--hosts-from-nodes adds every Node)' }],
    manifestFlags: { 'kube-apiserver': { 'audit-log-path': '/var/log/kubernetes/audit.log' } },
    extraSans: ['k8s-api.example.com', '192.168.1.200'],
    generatedAt: new Date('2026-12-02T00:00:00Z'),
  };
  const text = renderAdoptedInventory(input, '192.168.1.100');

  it('validates with the reader plan and apply use, and describes the cluster found', async () => {
    const inv = (await parseInventory(text, 'adopted.yaml', { checkKeyFiles: false })).inventory;
    expect(inv.hosts.map((h) => [h.name, h.address, h.roles])).toEqual([
      ['k8s-master01', '192.168.1.100', ['control-plane']],
      ['k8s-node01', '192.168.1.101', ['worker']],
    ]);
    expect(inv.hosts[1]!.labels).toEqual({ pool: 'general' });
    // kubeadm named k8s-node01's Node otherwise than its host: apply must not rename the host
    expect(inv.preparation.setHostname).toBe(false);
    expect(inv.cluster).toMatchObject({
      kubernetesVersion: 'v1.20.2',
      imageRepository: 'registry.cn-hangzhou.aliyuncs.com/google_containers',
      networking: { podSubnet: '172.168.0.0/16', serviceSubnet: '10.96.0.0/12' },
      packages: { source: 'mirror', mirror: 'https://mirrors.aliyun.com/kubernetes', mirrorLayout: 'legacy', unsigned: false },
      containerRuntime: { cgroupDriver: 'systemd' },
      kubeProxy: { mode: 'ipvs', ipvsScheduler: 'rr' },
      cni: { plugin: 'none' },
      addons: { coreDNS: true, kubeProxy: true, metricsServer: false },
      certificates: { validity: '8760h', caValidity: '87600h', keyAlgorithm: 'RSA-2048' },
      etcd: { imageTag: '3.4.13-0' },
    });
    // the default sandbox image for the repository is not repeated as an override
    expect(inv.cluster.containerRuntime.sandboxImage).toBeUndefined();
    expect(inv.cluster.apiServer.extraArgs).toEqual({
      'authorization-mode': 'Node,RBAC',
      'audit-log-maxage': '30',
      'audit-log-path': '/var/log/kubernetes/audit.log',
    });
    expect(inv.cluster.apiServer.extraVolumes).toEqual([
      { name: 'audit', hostPath: '/var/log/kubernetes', mountPath: '/var/log/kubernetes', readOnly: false, pathType: 'DirectoryOrCreate' },
    ]);
  });

  it('comments on what adopt guessed or could not carry over, above the field', () => {
    expect(text).toMatch(
      /# running: calico \(DaemonSet kube-system\/calico-node\): kubestrap leaves a pod network it did not install alone[^\n]*\n\s+plugin: none/,
    );
    expect(text).toMatch(/# containerd differs on k8s-node01 \(cgroup cgroupfs[^\n]*\n\s+containerRuntime:/);
    expect(text).toMatch(
      /# --audit-log-path: in kube-apiserver's manifest but not in kubeadm-config \(edited by hand on the node\)\n\s+extraArgs:/,
    );
    expect(text).toMatch(/# Nodes of the cluster not in this inventory[^\n]*\n#\s+k8s-node02 \(192\.168\.1\.102\): not asked for/);
    expect(text).toMatch(
      /# k8s-api\.example\.com, 192\.168\.1\.200: in the API server's certificate but not in kubeadm-config[^\n]*\n\s+certSANs:\n\s+- k8s-api\.example\.com\n\s+- 192\.168\.1\.200/,
    );
    expect(text).toMatch(
      /# host names differ from node names \(node01\.example\.com is Node k8s-node01\): kubestrap leaves host names alone\n\s+setHostname: false/,
    );
    expect(text).toMatch(/# the other nodes: their InternalIP, logged in to as k8s-master01 is \(GUESS/);
  });

  it("an external etcd (Kubespray's host etcd) becomes etcd.external with kubeadm-config's endpoints and files, and the inventory validates", async () => {
    const external = {
      endpoints: ['https://192.168.1.100:2379'],
      caFile: '/etc/ssl/etcd/ssl/ca.pem',
      certFile: '/etc/ssl/etcd/ssl/node-k8s-master01.pem',
      keyFile: '/etc/ssl/etcd/ssl/node-k8s-master01-key.pem',
    };
    const kubeadm = { ...cluster.kubeadm, etcd: { kind: 'external' as const, ...external } };
    const adopted = renderAdoptedInventory({ ...input, cluster: { ...input.cluster, kubeadm } }, '192.168.1.100');
    const inv = (await parseInventory(adopted, 'adopted.yaml', { checkKeyFiles: false })).inventory;
    expect(inv.cluster.etcd.external).toEqual(external);
    expect(inv.cluster.etcd.imageTag).toBeUndefined();
  });
});
