/**
 * What kubeadm writes differently from one release to the next, checked on both sides of every
 * cut-over (each row names the kubeadm change it follows); the kubeadm-config document of every
 * v1beta4 release in kubeadm's own shape and read back by kubestrap; the migrations and etcd rule
 * of each upgrade hop; the supported range as `validate` states it.
 */
import { addonObjects } from '../../src/kube/addon-set.js';
import { readFileSync } from 'node:fs';
import { describe, expect, it, test } from 'vitest';
import { parse } from 'yaml';
import { InventoryError } from '../../src/inventory/issues.js';
import { parseInventory } from '../../src/inventory/load.js';
import { resolveHosts } from '../../src/inventory/resolve.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { corefile, coreDnsObjects } from '../../src/kube/addons.js';
import { clusterObjects } from '../../src/kube/cluster-objects.js';
import { localChecks } from '../../src/kube/component-health.js';
import { clusterConfiguration, clusterConfigurationYaml, readKubeadmConfig } from '../../src/kube/kubeadm-config.js';
import { controlPlaneInput, kubeletFiles } from '../../src/kube/node-files.js';
import { markings } from '../../src/kube/node-marking.js';
import { CERTIFICATES, KUBECONFIGS } from '../../src/pki/catalogue.js';
import { clusterPki } from '../../src/pki/from-inventory.js';
import { cgroupProblem, containerdProblem } from '../../src/preflight/checks.js';
import { etcdHopProblem, hopMigrations } from '../../src/upgrade/migrations.js';
import { decideUpgrade, kubeletSkew } from '../../src/upgrade/version-policy.js';
import { withReleasesTable } from '../../src/inventory/releases-doc.js';
import { parseVersion } from '../../src/util/version.js';
import { renderContainerdConfig } from '../../templates/containerd.js';
import { controlPlanePods } from '../../templates/control-plane.js';
import {
  containerdConfigVersion,
  coreDnsImage,
  etcdImageTag,
  expectedContainerdConfigVersion,
  pauseTag,
} from '../../templates/versions.js';

const v = (text: string) => parseVersion(text)!;

function inventoryText(version: string, cluster = ''): string {
  return `apiVersion: kubestrap.dev/v1alpha1
kind: Cluster
hosts:
  - {name: cp-1, address: 10.0.0.1, roles: [control-plane]}
  - {name: cp-2, address: 10.0.0.2, roles: [control-plane]}
  - {name: worker-1, address: 10.0.0.3, roles: [worker]}
cluster:
  kubernetesVersion: ${version}
  controlPlaneEndpoint: api.example.com:6443
${cluster}`;
}

async function inventory(version: string, cluster = ''): Promise<Inventory> {
  return (await parseInventory(inventoryText(version, cluster), 'test.yaml', { checkKeyFiles: false })).inventory;
}

const USER_ARGS = '  apiServer:\n    extraArgs:\n      service-account-issuer: https://new.example.com\n      audit-log-maxage: "30"\n';

/** One observable value of a release's rendered output. */
async function observe(version: string, what: (inv: Inventory) => unknown, cluster = ''): Promise<unknown> {
  return what(await inventory(version, cluster));
}

const cp = (inv: Inventory) => resolveHosts(inv)[0]!;
const pods = (inv: Inventory) => controlPlanePods(controlPlaneInput(inv, cp(inv), []));
const flagsEnv = (inv: Inventory) => kubeletFiles(inv, cp(inv), 'cp-1').find((f) => f.path.endsWith('kubeadm-flags.env'))!.content;

interface Row {
  readonly fact: string;
  readonly change: string;
  readonly before: string;
  readonly after: string;
  readonly value: (inv: Inventory) => unknown;
  readonly expected: readonly [unknown, unknown];
  readonly cluster?: string;
}

const apiServerFlags = (i: Inventory) => pods(i)['kube-apiserver'].spec.containers[0]!.command!;
const etcdPod = (i: Inventory) => pods(i).etcd.spec.containers[0]!;
const mark = (i: Inventory) => markings(v(i.cluster.kubernetesVersion).minor, i.cluster.containerRuntime.socket);
/** The cluster objects kubestrap creates at `i`'s release (the values no row reads left empty). */
const clusterObjectsAt = (i: Inventory) =>
  clusterObjects({
    version: v(i.cluster.kubernetesVersion),
    server: 'https://x:6443',
    caCertPem: '',
    clusterConfiguration: {},
    kubeletConfiguration: {},
  });
/** CoreDNS's Deployment at `i`'s release, typed as far as a row reads its pod spec. */
const coreDnsDeployment = <PodSpec>(i: Inventory) =>
  coreDnsObjects({
    image: 'x',
    dnsDomain: 'cluster.local',
    clusterDns: '10.96.0.10',
    minor: v(i.cluster.kubernetesVersion).minor,
    disruptionBudget: false,
  }).find((o) => o.kind === 'Deployment') as unknown as { spec: { template: { spec: PodSpec } } };
const orgsOf = (name: string) => (i: Inventory) => CERTIFICATES.find((c) => c.name === name)!.organizations(clusterPki(i));

/** Cut-overs from before 1.31 (kubeadm-spec §2–§10; the 1.20 side is the reference kubeadm 1.20.2's output). */
const OLDER_ROWS: readonly Row[] = [
  {
    fact: 'etcd probe path',
    change: 'kubeadm 1.22: /health?exclude=NOSPACE&serializable=true',
    before: 'v1.21.14',
    after: 'v1.22.17',
    value: (i) => etcdPod(i).livenessProbe?.httpGet.path,
    expected: ['/health', '/health?exclude=NOSPACE&serializable=true'],
  },
  {
    fact: 'etcd ephemeral-storage request',
    change: '#102673, cherry-picked to 1.21.2',
    before: 'v1.21.1',
    after: 'v1.21.2',
    value: (i) => etcdPod(i).resources?.requests?.['ephemeral-storage'],
    expected: ['100Mi', undefined],
  },
  {
    fact: 'etcd ephemeral-storage request (1.20 patch)',
    change: '#102704',
    before: 'v1.20.7',
    after: 'v1.20.8',
    value: (i) => etcdPod(i).resources?.requests?.['ephemeral-storage'],
    expected: ['100Mi', undefined],
  },
  {
    fact: 'kube-apiserver --insecure-port=0',
    change: '#102121',
    before: 'v1.21.14',
    after: 'v1.22.17',
    value: (i) => apiServerFlags(i).includes('--insecure-port=0'),
    expected: [true, false],
  },
  {
    fact: 'seccompProfile RuntimeDefault',
    change: 'kubeadm 1.24 (#107955 era)',
    before: 'v1.23.17',
    after: 'v1.24.17',
    value: (i) => pods(i)['kube-apiserver'].spec.securityContext,
    expected: [undefined, { seccompProfile: { type: 'RuntimeDefault' } }],
  },
  {
    fact: 'etcd corrupt-check and watch-progress flags',
    change: 'kubeadm 1.24',
    before: 'v1.23.17',
    after: 'v1.24.17',
    value: (i) => etcdPod(i).command!.some((a) => a.startsWith('--experimental-initial-corrupt-check')),
    expected: [false, true],
  },
  {
    fact: 'kubelet --container-runtime=remote',
    change: '#110022',
    before: 'v1.24.17',
    after: 'v1.25.16',
    value: (i) => flagsEnv(i).includes('--container-runtime=remote'),
    expected: [true, false],
  },
  {
    fact: 'kubelet --pod-infra-container-image',
    change: 'kubeadm 1.24 pins the sandbox image',
    before: 'v1.23.17',
    after: 'v1.24.17',
    value: (i) => flagsEnv(i).includes('--pod-infra-container-image='),
    expected: [false, true],
  },
  {
    fact: 'node-role.kubernetes.io/master label',
    change: 'kubeadm 1.24 (#107533)',
    before: 'v1.23.17',
    after: 'v1.24.17',
    value: (i) => 'node-role.kubernetes.io/master' in mark(i).labels,
    expected: [true, false],
  },
  {
    fact: 'control-plane taints',
    change: 'kubeadm 1.24 adds control-plane, 1.25 drops master (#107533)',
    before: 'v1.24.17',
    after: 'v1.25.16',
    value: (i) => mark(i).taints.map((t) => t.key),
    expected: [['node-role.kubernetes.io/master', 'node-role.kubernetes.io/control-plane'], ['node-role.kubernetes.io/control-plane']],
  },
  {
    fact: 'kubelet-config ConfigMap name',
    change: 'kubeadm 1.24 (UnversionedKubeletConfigMap)',
    before: 'v1.23.17',
    after: 'v1.24.17',
    value: (i) =>
      clusterObjectsAt(i)
        .filter((o) => o.kind === 'ConfigMap')
        .map((o) => o.metadata.name)
        .find((n) => n.startsWith('kubelet-config')),
    expected: ['kubelet-config-1.23', 'kubelet-config'],
  },
  {
    fact: 'PodDisruptionBudget API of the add-ons',
    change: 'policy/v1 GA in Kubernetes 1.21',
    before: 'v1.20.15',
    after: 'v1.21.14',
    value: (i) =>
      addonObjects(i, 'https://x:6443', undefined)
        .filter((o) => o.kind === 'PodDisruptionBudget')
        .map((o) => o.apiVersion),
    expected: [['policy/v1beta1'], ['policy/v1']],
  },
  {
    fact: 'CoreDNS named probe ports',
    change: 'CoreDNS manifest of kubeadm 1.27',
    before: 'v1.26.15',
    after: 'v1.27.16',
    value: (i) => {
      const d = coreDnsDeployment<{ containers: Array<{ livenessProbe: { httpGet: { port: unknown } } }> }>(i);
      return d.spec.template.spec.containers[0]!.livenessProbe.httpGet.port;
    },
    expected: [8080, 'liveness-probe'],
  },
  {
    fact: 'super-admin.conf and kubeadm:cluster-admins',
    change: 'kubeadm 1.29 (#121305)',
    before: 'v1.28.15',
    after: 'v1.29.15',
    value: (i) => [
      KUBECONFIGS.filter((k) => k.since(v(i.cluster.kubernetesVersion))).some((k) => k.file === 'super-admin.conf'),
      orgsOf('apiserver-kubelet-client')(i),
    ],
    expected: [
      [false, ['system:masters']],
      [true, ['kubeadm:cluster-admins']],
    ],
  },
  {
    fact: 'apiserver-etcd-client group',
    change: 'kubeadm 1.29',
    before: 'v1.28.15',
    after: 'v1.29.15',
    value: orgsOf('apiserver-etcd-client'),
    expected: [['system:masters'], []],
  },
  {
    fact: 'etcd-healthcheck-client group',
    change: '#119859',
    before: 'v1.28.15',
    after: 'v1.29.15',
    value: orgsOf('etcd-healthcheck-client'),
    expected: [['system:masters'], []],
  },
  {
    fact: 'etcd probes /livez and /readyz',
    change: 'kubeadm 1.31 (#124465)',
    before: 'v1.30.13',
    after: 'v1.31.9',
    value: (i) => [etcdPod(i).livenessProbe?.httpGet.path, etcdPod(i).readinessProbe?.httpGet.path],
    expected: [
      ['/health?exclude=NOSPACE&serializable=true', undefined],
      ['/livez', '/readyz'],
    ],
  },
  {
    fact: 'controller-manager and scheduler --port=0',
    change: 'kubernetes/kubeadm#2207',
    before: 'v1.23.17',
    after: 'v1.24.17',
    value: (i) => [
      pods(i)['kube-controller-manager'].spec.containers[0]!.command!.includes('--port=0'),
      pods(i)['kube-scheduler'].spec.containers[0]!.command!.includes('--port=0'),
    ],
    expected: [
      [true, true],
      [false, false],
    ],
  },
  {
    fact: 'static pod priority',
    change: '#114338',
    before: 'v1.23.17',
    after: 'v1.24.17',
    value: (i) => pods(i)['kube-apiserver'].spec.priority,
    expected: [undefined, 2000001000],
  },
  {
    fact: 'CoreDNS tolerates the master taint',
    change: 'KEP-2067 stage 4',
    before: 'v1.25.16',
    after: 'v1.26.15',
    value: (i) => coreDnsTolerations(i).some((t) => t.key === 'node-role.kubernetes.io/master'),
    expected: [true, false],
  },
  {
    fact: 'default image repository of a kubeadm-config naming none',
    change: '#109938',
    before: 'v1.24.17',
    after: 'v1.25.16',
    value: (i) =>
      readKubeadmConfig({
        ClusterConfiguration: `apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nkubernetesVersion: ${i.cluster.kubernetesVersion}\n`,
      }).imageRepository,
    expected: ['k8s.gcr.io', 'registry.k8s.io'],
  },
  {
    fact: "a kubelet's allowed lag behind the API server",
    change: 'KEP-3935',
    before: 'v1.27.16',
    after: 'v1.28.15',
    value: (i) => kubeletSkew(v(i.cluster.kubernetesVersion).minor),
    expected: [2, 3],
  },
  {
    fact: '/etc/pki mounted into the API server',
    change: '#124361',
    before: 'v1.30.13',
    after: 'v1.31.9',
    value: (i) => {
      const apiServer = controlPlanePods(controlPlaneInput(i, cp(i), ['/etc/pki']))['kube-apiserver'];
      return apiServer.spec.volumes!.map((vol) => vol.hostPath?.path).filter((path) => path?.startsWith('/etc/pki'));
    },
    expected: [['/etc/pki'], ['/etc/pki/ca-trust', '/etc/pki/tls/certs']],
  },
  {
    fact: "CoreDNS's cache of the cluster domain",
    change: '#128359',
    before: 'v1.31.9',
    after: 'v1.32.5',
    value: (i) => corefile('cluster.local', v(i.cluster.kubernetesVersion).minor).includes('disable success cluster.local'),
    expected: [false, true],
  },
  {
    fact: 'cgroup v1 host',
    change: 'KEP-4569',
    before: 'v1.30.13',
    after: 'v1.31.9',
    value: (i) => cgroupProblem(i, { cgroupVersion: 1 })?.severity,
    expected: [undefined, 'warning'],
  },
];

function coreDnsTolerations(i: Inventory): ReadonlyArray<{ key?: string }> {
  return coreDnsDeployment<{ tolerations: Array<{ key?: string }> }>(i).spec.template.spec.tolerations;
}

const ROWS: readonly Row[] = [
  ...OLDER_ROWS,
  {
    fact: 'scheduler probe paths',
    change: '#126945',
    before: 'v1.31.9',
    after: 'v1.32.5',
    value: (i) => {
      const c = pods(i)['kube-scheduler'].spec.containers[0]!;
      return [c.livenessProbe?.httpGet.path, c.readinessProbe?.httpGet.path];
    },
    expected: [
      ['/healthz', undefined],
      ['/livez', '/readyz'],
    ],
  },
  {
    fact: "control plane's kubelet.conf server",
    change: '#129956 ControlPlaneKubeletLocalMode',
    before: 'v1.32.5',
    after: 'v1.33.1',
    value: (i) => KUBECONFIGS.find((k) => k.file === 'kubelet.conf')!.server(clusterPki(i)),
    expected: ['endpoint', 'local'],
  },
  {
    fact: 'probes by port name',
    change: '#132776',
    before: 'v1.33.1',
    after: 'v1.34.0',
    value: (i) => {
      const c = pods(i)['kube-apiserver'].spec.containers[0]!;
      return [c.livenessProbe?.httpGet.port, c.ports];
    },
    expected: [
      [6443, undefined],
      ['probe-port', [{ containerPort: 6443, name: 'probe-port', protocol: 'TCP' }]],
    ],
  },
  {
    fact: 'instance-config.yaml written',
    change: '#131981 NodeLocalCRISocket',
    before: 'v1.33.1',
    after: 'v1.34.0',
    value: (i) => kubeletFiles(i, cp(i), 'cp-1').some((f) => f.path === '/var/lib/kubelet/instance-config.yaml'),
    expected: [false, true],
  },
  {
    fact: 'containerRuntimeEndpoint in config.yaml',
    change: '#131981',
    before: 'v1.33.1',
    after: 'v1.34.0',
    value: (i) => (parse(kubeletFiles(i, cp(i), 'cp-1')[0]!.content) as { containerRuntimeEndpoint?: string }).containerRuntimeEndpoint,
    expected: [undefined, 'unix:///run/containerd/containerd.sock'],
  },
  {
    fact: '--container-runtime-endpoint flag',
    change: '#131981',
    before: 'v1.33.1',
    after: 'v1.34.0',
    value: (i) => flagsEnv(i).includes('--container-runtime-endpoint='),
    expected: [true, false],
  },
  {
    fact: 'cri-socket Node annotation',
    change: '#131981',
    before: 'v1.33.1',
    after: 'v1.34.0',
    value: (i) =>
      markings(v(i.cluster.kubernetesVersion).minor, i.cluster.containerRuntime.socket).annotations[
        'kubeadm.alpha.kubernetes.io/cri-socket'
      ],
    expected: ['unix:///run/containerd/containerd.sock', null],
  },
  {
    fact: '--pod-infra-container-image flag',
    change: '#133778/#133779',
    before: 'v1.34.8',
    after: 'v1.35.0',
    value: (i) => flagsEnv(i).includes('--pod-infra-container-image='),
    expected: [true, false],
  },
  {
    fact: 'controller-manager flex-volume mount',
    change: '#136423',
    before: 'v1.35.5',
    after: 'v1.36.0',
    value: (i) => pods(i)['kube-controller-manager'].spec.volumes.some((vol) => vol.name === 'flexvolume-dir'),
    expected: [true, false],
  },
  {
    fact: 'etcd corrupt-check flag (etcd 3.5 → 3.6)',
    change: '#132838/#133023',
    before: 'v1.33.1',
    after: 'v1.34.0',
    value: (i) => pods(i).etcd.spec.containers[0]!.command!.filter((a) => /corrupt|watch-progress/i.test(a)),
    expected: [
      ['--experimental-initial-corrupt-check=true', '--experimental-watch-progress-notify-interval=5s'],
      ['--feature-gates=InitialCorruptCheck=true', '--watch-progress-notify-interval=5s'],
    ],
  },
  {
    fact: 'extraArgs order (1.35 patch)',
    change: '#135400, cherry-pick #135853',
    before: 'v1.35.0',
    after: 'v1.35.1',
    cluster: USER_ARGS,
    value: (i) => pods(i)['kube-apiserver'].spec.containers[0]!.command!.slice(1, 3),
    expected: [
      ['--advertise-address=10.0.0.1', '--allow-privileged=true'],
      ['--service-account-issuer=https://new.example.com', '--audit-log-maxage=30'],
    ],
  },
  {
    fact: 'extraArgs order (1.32 patch)',
    change: '#135400, cherry-pick #135850',
    before: 'v1.32.11',
    after: 'v1.32.12',
    cluster: USER_ARGS,
    value: (i) => pods(i)['kube-apiserver'].spec.containers[0]!.command![1],
    expected: ['--advertise-address=10.0.0.1', '--service-account-issuer=https://new.example.com'],
  },
  {
    fact: 'apiserver-kubelet-client group',
    change: '#138957, cherry-pick to 1.36.1',
    before: 'v1.36.0',
    after: 'v1.36.1',
    value: (i) => CERTIFICATES.find((c) => c.name === 'apiserver-kubelet-client')!.organizations(clusterPki(i)),
    expected: [['kubeadm:cluster-admins'], []],
  },
  {
    fact: 'apiserver-kubelet-client group (1.33 patch)',
    change: '#138957, cherry-pick to 1.33.12',
    before: 'v1.33.11',
    after: 'v1.33.12',
    value: (i) => CERTIFICATES.find((c) => c.name === 'apiserver-kubelet-client')!.organizations(clusterPki(i)).length,
    expected: [1, 0],
  },
  {
    fact: 'kubeadm:apiserver-kubelet-client binding',
    change: '#138957',
    before: 'v1.35.4',
    after: 'v1.35.5',
    value: (i) => clusterObjectsAt(i).some((o) => o.metadata.name === 'kubeadm:apiserver-kubelet-client'),
    expected: [false, true],
  },
  {
    fact: 'kubeadm-config API version (v1beta3)',
    change: 'kubeadm v1beta3 API, 1.22',
    before: 'v1.21.14',
    after: 'v1.22.17',
    value: (i) => clusterConfiguration(i).apiVersion,
    expected: ['kubeadm.k8s.io/v1beta2', 'kubeadm.k8s.io/v1beta3'],
  },
  {
    fact: 'kubeadm-config API version (v1beta4)',
    change: 'kubeadm v1beta4 API, 1.31; v1beta3 removed #136016',
    before: 'v1.30.13',
    after: 'v1.31.9',
    value: (i) => clusterConfiguration(i).apiVersion,
    expected: ['kubeadm.k8s.io/v1beta3', 'kubeadm.k8s.io/v1beta4'],
  },
  {
    fact: 'pause tag',
    change: '#130713',
    before: 'v1.33.1',
    after: 'v1.34.0',
    value: (i) => pauseTag(v(i.cluster.kubernetesVersion).minor),
    expected: ['3.10', '3.10.1'],
  },
  {
    fact: 'pause tag',
    change: '#138199',
    before: 'v1.35.5',
    after: 'v1.36.0',
    value: (i) => pauseTag(v(i.cluster.kubernetesVersion).minor),
    expected: ['3.10.1', '3.10.2'],
  },
  {
    fact: 'etcd tag (patch-level bump)',
    change: '#134861 via #135018',
    before: 'v1.33.5',
    after: 'v1.33.6',
    value: (i) => etcdImageTag(v(i.cluster.kubernetesVersion)),
    expected: ['3.5.21-0', '3.5.24-0'],
  },
  {
    fact: 'etcd tag',
    change: '#137107, #140333',
    before: 'v1.36.1',
    after: 'v1.37.0',
    value: (i) => etcdImageTag(v(i.cluster.kubernetesVersion)),
    expected: ['3.6.8-0', '3.7.0-0'],
  },
  {
    fact: 'CoreDNS image',
    change: '#131151',
    before: 'v1.33.1',
    after: 'v1.34.0',
    value: (i) => coreDnsImage(i.cluster.imageRepository, v(i.cluster.kubernetesVersion).minor),
    expected: ['registry.k8s.io/coredns/coredns:v1.12.0', 'registry.k8s.io/coredns/coredns:v1.12.1'],
  },
  {
    fact: 'components waited for on init and join',
    change: '#132594 WaitForAllControlPlaneComponents',
    before: 'v1.33.1',
    after: 'v1.34.0',
    value: (i) => localChecks(v(i.cluster.kubernetesVersion).minor).map((c) => c.url),
    expected: [
      ['http://127.0.0.1:10248/healthz'],
      ['http://127.0.0.1:10248/healthz', 'https://127.0.0.1:10257/healthz', 'https://127.0.0.1:10259/livez'],
    ],
  },
  {
    fact: 'containerd config version when containerd is not installed yet',
    change: 'containerd RELEASES.md: no 1.x for 1.36',
    before: 'v1.35.5',
    after: 'v1.36.0',
    value: (i) => expectedContainerdConfigVersion(v(i.cluster.kubernetesVersion).minor),
    expected: [2, 3],
  },
];

describe('version-dependent output on both sides of each cut-over', () => {
  test.each(ROWS)('$fact: $before → $after ($change)', async (row) => {
    expect(await observe(row.before, row.value, row.cluster)).toEqual(row.expected[0]);
    expect(await observe(row.after, row.value, row.cluster)).toEqual(row.expected[1]);
  });

  it('a user flag overriding a default takes the user position and appears once (1.36)', async () => {
    const command = pods(
      await inventory('v1.36.1', '  apiServer:\n    extraArgs:\n      secure-port: "6444"\n      allow-privileged: "false"\n'),
    )['kube-apiserver'].spec.containers[0]!.command!;
    expect(command.slice(1, 3)).toEqual(['--secure-port=6444', '--allow-privileged=false']);
    expect(command.filter((a) => a.startsWith('--allow-privileged'))).toHaveLength(1);
    const defaults = command.slice(3);
    expect(defaults).toEqual([...defaults].sort());
  });
});

describe('kubeadm-config ClusterConfiguration', () => {
  const EXTRA = `${USER_ARGS}  etcd:\n    extraArgs:\n      snapshot-count: "5000"\n  scheduler:\n    extraEnvs:\n      - {name: GODEBUG, value: x509sha1=1}\n`;
  const V1BETA4_FIELDS = [
    'apiServer',
    'apiVersion',
    'caCertificateValidityPeriod',
    'certificateValidityPeriod',
    'certificatesDir',
    'clusterName',
    'controlPlaneEndpoint',
    'controllerManager',
    'dns',
    'encryptionAlgorithm',
    'etcd',
    'imageRepository',
    'kind',
    'kubernetesVersion',
    'networking',
    'proxy',
    'scheduler',
  ];

  test.each(['v1.31.9', 'v1.32.5', 'v1.33.1', 'v1.34.8', 'v1.35.5', 'v1.36.1', 'v1.37.1'])(
    '%s decodes under the v1beta4 shape and reads back as written',
    async (version) => {
      const inv = await inventory(version, EXTRA);
      const doc = parse(clusterConfigurationYaml(clusterConfiguration(inv))) as Record<string, unknown> & {
        apiServer: { extraArgs: unknown };
        etcd: { local: { extraArgs: unknown } };
        scheduler: { extraEnvs: unknown };
      };
      expect(doc.apiVersion).toBe('kubeadm.k8s.io/v1beta4');
      expect(Object.keys(doc).filter((k) => !V1BETA4_FIELDS.includes(k))).toEqual([]);
      // v1beta4 Arg: a list of {name, value}, both strings, the user's order kept
      expect(doc.apiServer.extraArgs).toEqual([
        { name: 'service-account-issuer', value: 'https://new.example.com' },
        { name: 'audit-log-maxage', value: '30' },
      ]);
      expect(doc.etcd.local.extraArgs).toEqual([{ name: 'snapshot-count', value: '5000' }]);
      expect(doc.scheduler.extraEnvs).toEqual([{ name: 'GODEBUG', value: 'x509sha1=1' }]);
      expect(doc).toMatchObject({
        encryptionAlgorithm: 'RSA-2048',
        certificateValidityPeriod: '8760h0m0s',
        caCertificateValidityPeriod: '87600h0m0s',
      });
      const read = readKubeadmConfig({ ClusterConfiguration: clusterConfigurationYaml(clusterConfiguration(inv)) });
      expect([read.apiServer.extraArgs, read.controllerManager.extraArgs, read.scheduler.extraArgs, read.scheduler.extraEnvs]).toEqual([
        inv.cluster.apiServer.extraArgs,
        {},
        {},
        [{ name: 'GODEBUG', value: 'x509sha1=1' }],
      ]);
      expect(read).toMatchObject({
        kubernetesVersion: version,
        controlPlaneEndpoint: 'api.example.com:6443',
        etcd: { kind: 'local', imageTag: etcdImageTag(v(version)), extraArgs: { 'snapshot-count': '5000' } },
      });
    },
  );

  it('v1beta3 (1.22–1.30) keeps extraArgs as a map and has no extraEnvs', async () => {
    const doc = clusterConfiguration(await inventory('v1.30.13', EXTRA)) as {
      apiServer: { extraArgs: unknown };
      scheduler: Record<string, unknown>;
    };
    expect(doc.apiServer.extraArgs).toEqual({ 'service-account-issuer': 'https://new.example.com', 'audit-log-maxage': '30' });
    expect(doc.scheduler).toEqual({});
  });
});

describe('upgrade hops', () => {
  it('1.33 → 1.34: NodeLocalCRISocket migrations, etcd 3.5 → 3.6', () => {
    expect(hopMigrations(v('v1.33.6'), v('v1.34.3'))).toEqual([
      '/var/lib/kubelet/instance-config.yaml written and containerRuntimeEndpoint merged into config.yaml (NodeLocalCRISocket, #131981)',
      '--container-runtime-endpoint removed from kubeadm-flags.env before the new kubelet starts',
      'Node annotation kubeadm.alpha.kubernetes.io/cri-socket removed from every Node',
      'etcd 3.5.24-0 → 3.6.4-0, one control plane at a time behind its stopped API server',
    ]);
  });

  it('1.34 → 1.35 (into a patch of #138957): the binding before the certificate, the flag the 1.35 kubelet refuses', () => {
    expect(hopMigrations(v('v1.34.7'), v('v1.35.5'))).toEqual([
      'ClusterRoleBinding kubeadm:apiserver-kubelet-client created first, then apiserver-kubelet-client reissued without O=kubeadm:cluster-admins (#138957)',
      '--pod-infra-container-image removed from kubeadm-flags.env before the 1.35 kubelet starts (#133778): it refuses the flag',
      'etcd 3.6.4-0 → 3.6.6-0, one control plane at a time behind its stopped API server',
    ]);
  });

  it('1.36 → 1.37: etcd 3.6 → 3.7 only', () => {
    expect(hopMigrations(v('v1.36.1'), v('v1.37.1'))).toEqual([
      'etcd 3.6.8-0 → 3.7.0-0, one control plane at a time behind its stopped API server',
    ]);
  });

  it("1.32 → 1.33 repoints control planes' kubelet.conf; 1.30 → 1.31 rewrites kubeadm-config as v1beta4", () => {
    expect(hopMigrations(v('v1.32.5'), v('v1.33.1'))).toContain(
      "control planes' kubelet.conf pointed at their own API server (ControlPlaneKubeletLocalMode, #129956)",
    );
    expect(hopMigrations(v('v1.30.13'), v('v1.31.9'))).toContain('kube-system/kubeadm-config rewritten as kubeadm.k8s.io/v1beta4');
  });

  it('an etcd hop below the required minimum patch is refused with the way forward; at the minimum it is allowed', () => {
    expect(etcdHopProblem('cp-1', '3.6.8-0', '3.7.0-0')).toMatch(
      /etcd 3\.7 can only be reached from 3\.6\.11 or newer: first set cluster\.etcd\.imageTag to 3\.6\.11-0/,
    );
    expect(etcdHopProblem('cp-1', '3.6.11-0', '3.7.0-0')).toBeUndefined();
    expect(etcdHopProblem('cp-1', '3.5.24-0', '3.6.4-0')).toMatch(/3\.6 can only be reached from 3\.5\.26 or newer/);
    expect(etcdHopProblem('cp-1', '3.5.26-0', '3.6.4-0')).toBeUndefined();
    expect(etcdHopProblem('cp-1', '3.5.26-0', '3.7.0-0')).toMatch(/skips an etcd minor/);
    const cluster = {
      controlPlane: v('v1.36.1'),
      kubelets: new Map(),
      etcd: new Map([
        ['cp-1', '3.6.11-0'],
        ['cp-2', '3.6.8-0'],
      ]),
    };
    const d = decideUpgrade(cluster, v('v1.37.1'), etcdImageTag(v('v1.37.1')));
    expect(d.ok).toBe(false);
    expect(!d.ok && d.problems).toEqual([expect.stringMatching(/^etcd on cp-2 runs 3\.6\.8-0/)]);
  });
});

describe('supported releases', () => {
  it("the README's releases table is the catalogue's (npm run docs)", () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(withReleasesTable(readme)).toBe(readme);
    expect(readme).toContain('| 1.37 | 3.7.0-0 | v1.14.6 | 3.10.2 | 2.2.0+, 2.3.0+ | v2 (v1 only with `failCgroupV1: false`) |');
    expect(readme).toContain('| 1.33 | 3.5.21-0, 3.5.24-0 from .6 | v1.12.0 | 3.10 |');
  });

  const problems = async (version: string, cluster = '') => {
    try {
      await parseInventory(inventoryText(version, cluster), 'test.yaml', { checkKeyFiles: false });
      return [];
    } catch (err) {
      if (err instanceof InventoryError) return err.issues.map((i) => `${i.path}: ${i.message}`);
      throw err;
    }
  };

  it('validate accepts v1.37.x and refuses v1.38.0 and v1.19 naming the supported range', async () => {
    expect(await problems('v1.37.1')).toEqual([]);
    expect(await problems('v1.38.0')).toEqual([
      expect.stringMatching(/^cluster\.kubernetesVersion: v1\.38\.0 is not supported yet.*kubestrap supports v1\.20\.0 to v1\.37\.x/),
    ]);
    expect(await problems('v1.19.16')).toEqual([
      'cluster.kubernetesVersion: v1.19.16 is not supported; kubestrap supports v1.20.0 to v1.37.x',
    ]);
  });

  it('kubelet flags a release removed are refused in cluster.kubelet.extraArgs from that release on', async () => {
    const args = (flag: string) => `  kubelet:\n    extraArgs:\n      ${flag}: x\n`;
    expect(await problems('v1.33.1', args('cloud-config'))).toEqual([]);
    expect(await problems('v1.34.0', args('cloud-config'))).toEqual([
      expect.stringMatching(/^cluster\.kubelet\.extraArgs\.cloud-config: --cloud-config was removed from the kubelet in 1\.34/),
    ]);
    expect(await problems('v1.34.0', args('register-schedulable'))).toHaveLength(1);
    expect(await problems('v1.34.8', args('pod-infra-container-image'))).toEqual([]);
    expect(await problems('v1.35.0', args('pod-infra-container-image'))).toEqual([
      expect.stringMatching(/pod-infra-container-image.*the v1\.35\.0 kubelet would not start with it/),
    ]);
  });
});

describe('containerd', () => {
  it('2.x gets configuration version 3 with pinned_images.sandbox and the runc SystemdCgroup option; 1.x version 2', () => {
    expect([
      containerdConfigVersion('1.6.20~ds1'),
      containerdConfigVersion('1.7.28'),
      containerdConfigVersion('2.1.9+ds1'),
      containerdConfigVersion(undefined),
    ]).toEqual([2, 2, 3, 2]);
    const v3 = renderContainerdConfig(
      { sandboxImage: 'mirror.example.com/google_containers/pause:3.10.2', systemdCgroup: true, restrictOOMScoreAdj: false },
      3,
    );
    expect(v3).toMatch(/^version = 3$/m);
    expect(v3).toContain(
      '[plugins.\'io.containerd.cri.v1.images\'.pinned_images]\n  sandbox = "mirror.example.com/google_containers/pause:3.10.2"',
    );
    expect(v3).toContain(
      "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]\n        # must match the kubelet's cgroupDriver\n        SystemdCgroup = true",
    );
    expect(v3).not.toContain('sandbox_image');
  });

  it('the support matrix: errors where the kubelet cannot talk to containerd, warnings outside the listed releases', () => {
    expect(containerdProblem(23, '2.1.9')).toMatchObject({ severity: 'error', message: expect.stringContaining('CRI v1alpha2') });
    expect(containerdProblem(35, '1.5.9')).toMatchObject({ severity: 'error' });
    expect(containerdProblem(36, '1.7.28')).toMatchObject({ severity: 'warning', message: expect.stringContaining('2.2.0+, 2.3.0+') });
    expect(containerdProblem(35, '2.1.4')).toMatchObject({ severity: 'warning' });
    expect(containerdProblem(35, '2.1.5')).toBeUndefined();
    expect(containerdProblem(34, '2.1.9+ds1')).toBeUndefined();
    expect(containerdProblem(37, '2.4.0')).toBeUndefined();
    expect(containerdProblem(20, '1.6.20~ds1')).toBeUndefined();
  });
});
