/**
 * How kubestrap decides that a live object or file already says what it wants: the fields it
 * sets, with YAML text compared as documents (Go's empty fields aside) and kubeadm-config as the
 * settings kubestrap reads from it. kubeadm's own texts (1.20.2's shapes) are the cases.
 */
import { describe, expect, it } from 'vitest';
import { objectDifferences } from '../../src/kube/object-diff.js';
import { sameYamlDocument } from '../../src/util/yaml-equivalence.js';

describe('YAML documents', () => {
  it("kubeadm's serialization (empty fields, another key order) says the same as kubestrap's", () => {
    const kubeadm =
      'apiVersion: v1\nkind: Pod\nmetadata:\n  creationTimestamp: null\n  name: etcd\nspec:\n  containers:\n  - name: etcd\n    resources: {}\nstatus: {}\n';
    const ours = 'kind: Pod\napiVersion: v1\nmetadata:\n  name: etcd\nspec:\n  containers:\n  - resources: {}\n    name: etcd\n';
    expect(sameYamlDocument(kubeadm, ours)).toBe(true);
    expect(sameYamlDocument('syncFrequency: 0s\ncgroupDriver: cgroupfs\nlogging: {}\n', 'cgroupDriver: cgroupfs\n')).toBe(true);
  });

  it('a value, a false or a 0 is not an empty field', () => {
    expect(sameYamlDocument('cgroupDriver: systemd\n', 'cgroupDriver: cgroupfs\n')).toBe(false);
    expect(sameYamlDocument('readOnly: false\n', '{}\n')).toBe(false);
    expect(sameYamlDocument('conntrack:\n  maxPerCore: 0\n', 'conntrack:\n  maxPerCore: null\n')).toBe(false);
    expect(sameYamlDocument('mode: ""\n', 'mode: iptables\n')).toBe(false);
    expect(sameYamlDocument('not: [yaml', 'not: [yaml]')).toBe(false);
  });
});

describe('API objects', () => {
  const desired = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'kube-proxy', namespace: 'kube-system' },
    data: { 'config.conf': 'mode: iptables\nclusterCIDR: 10.244.0.0/16\n' },
  };

  it('lists the paths where the live object lacks what kubestrap sets; defaults and additions of others are no difference', () => {
    expect(objectDifferences(desired, { ...desired, metadata: { ...desired.metadata, uid: 'x', resourceVersion: '9' } })).toEqual([]);
    expect(
      objectDifferences(desired, { ...desired, data: { 'config.conf': 'clusterCIDR: 10.244.0.0/16\nmode: ""\nconfigSyncPeriod: 0s\n' } }),
    ).toEqual(['data.config.conf']);
    expect(
      objectDifferences(
        { spec: { tolerations: [{ operator: 'Exists' }] } },
        { spec: { tolerations: [{ key: 'CriticalAddonsOnly', operator: 'Exists' }, { operator: 'Exists' }] } },
      ),
    ).toEqual(['spec.tolerations']);
    expect(objectDifferences({ spec: { replicas: '2' } }, { spec: { replicas: 2 } })).toEqual([]);
  });

  it("kubeadm-config compares as the settings kubestrap reads: kubeadm's defaults are no difference, a removed extra flag is", () => {
    const ours =
      'apiVersion: kubeadm.k8s.io/v1beta2\nkind: ClusterConfiguration\nkubernetesVersion: v1.20.2\nclusterName: kubernetes\nimageRepository: registry.local\napiServer:\n  extraArgs:\n    authorization-mode: Node,RBAC\ndns: {}\nnetworking: {podSubnet: 10.244.0.0/16, serviceSubnet: 10.96.0.0/12, dnsDomain: cluster.local}\netcd: {local: {dataDir: /var/lib/etcd, imageTag: 3.4.23}}\n';
    const kubeadms =
      'apiServer:\n  extraArgs:\n    authorization-mode: Node,RBAC\n  timeoutForControlPlane: 4m0s\napiVersion: kubeadm.k8s.io/v1beta2\ncertificatesDir: /etc/kubernetes/pki\nclusterName: kubernetes\ncontrollerManager: {}\ndns:\n  type: CoreDNS\netcd:\n  local:\n    dataDir: /var/lib/etcd\n    imageTag: 3.4.23\nimageRepository: registry.local\nkind: ClusterConfiguration\nkubernetesVersion: v1.20.2\nnetworking:\n  dnsDomain: cluster.local\n  podSubnet: 10.244.0.0/16\n  serviceSubnet: 10.96.0.0/12\nscheduler: {}\n';
    const cm = (text: string) => ({ data: { ClusterConfiguration: text } });
    expect(objectDifferences(cm(ours), cm(kubeadms))).toEqual([]);
    const withFlag = kubeadms.replace(
      '    authorization-mode: Node,RBAC\n',
      '    authorization-mode: Node,RBAC\n    audit-log-maxage: "30"\n',
    );
    expect(objectDifferences(cm(ours), cm(withFlag))).toEqual(['data.ClusterConfiguration']);
  });
});
