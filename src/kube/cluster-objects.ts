/**
 * The API objects `kubeadm init` creates besides the add-ons (kubeadm-spec §3.3, §5.3, §6):
 * TLS-bootstrap RBAC, cluster-info and its anonymous read access, the kubeadm-config and
 * kubelet-config ConfigMaps with their RBAC, and kubeadm:cluster-admins from 1.29. Pure values.
 */
import { stringify } from 'yaml';
import type { KubeVersion } from '../util/version.js';
import { KUBEADM_CHANGES } from '../../templates/versions.js';
import { clusterConfigurationYaml } from './kubeadm-config.js';
import { DEFAULT_TOKEN_GROUPS } from '../pki/bootstrap-token.js';
import { clusterInfoConfigMap, clusterInfoKubeconfig } from './bootstrap-objects.js';
import { configMapChecksum } from './config-hash.js';
import type { KubeObject } from '../../templates/objects.js';

const RBAC = 'rbac.authorization.k8s.io/v1';
const NODE_TOKEN_GROUP = DEFAULT_TOKEN_GROUPS[0]!;

type Subject = { kind: 'Group' | 'User'; name: string } | { kind: 'ServiceAccount'; name: string; namespace: string };

const subject = (s: Subject) => (s.kind === 'ServiceAccount' ? s : { apiGroup: 'rbac.authorization.k8s.io', ...s });

export function clusterRole(name: string, rules: ReadonlyArray<Record<string, unknown>>): KubeObject {
  return { apiVersion: RBAC, kind: 'ClusterRole', metadata: { name }, rules };
}

export function clusterRoleBinding(name: string, role: string, subjects: readonly Subject[]): KubeObject {
  return {
    apiVersion: RBAC,
    kind: 'ClusterRoleBinding',
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects: subjects.map(subject),
  };
}

export function role(name: string, namespace: string, rules: ReadonlyArray<Record<string, unknown>>): KubeObject {
  return { apiVersion: RBAC, kind: 'Role', metadata: { name, namespace }, rules };
}

export function roleBinding(name: string, namespace: string, roleName: string, subjects: readonly Subject[]): KubeObject {
  return {
    apiVersion: RBAC,
    kind: 'RoleBinding',
    metadata: { name, namespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: roleName },
    subjects: subjects.map(subject),
  };
}

const readConfigMap = (name: string) => [{ apiGroups: [''], resources: ['configmaps'], resourceNames: [name], verbs: ['get'] }];

export interface ClusterObjectsInput {
  readonly version: Pick<KubeVersion, 'minor' | 'patch'>;
  /** The API server URL nodes join through (controlPlaneEndpoint or the first control plane). */
  readonly server: string;
  readonly caCertPem: string;
  /** The ClusterConfiguration document stored in kubeadm-config. */
  readonly clusterConfiguration: Record<string, unknown>;
  readonly kubeletConfiguration: Record<string, unknown>;
}

/** The user the API server's kubelet client certificate names. */
const API_SERVER_KUBELET_CLIENT_USER = 'kube-apiserver-kubelet-client';

/** kubeadm:apiserver-kubelet-client → system:kubelet-api-admin (#138957): logs, exec and port-forward through the kubelets. */
export function apiServerKubeletClientBinding(): KubeObject {
  return clusterRoleBinding('kubeadm:apiserver-kubelet-client', 'system:kubelet-api-admin', [
    { kind: 'User', name: API_SERVER_KUBELET_CLIENT_USER },
  ]);
}

export const kubeletConfigMapName = (minor: number) =>
  KUBEADM_CHANGES.unversionedKubeletConfigMap({ minor }) ? 'kubelet-config' : `kubelet-config-1.${minor}`;

export function clusterObjects(input: ClusterObjectsInput): KubeObject[] {
  const { minor } = input.version;
  const kubeletName = kubeletConfigMapName(minor);
  const kubeletData = { kubelet: stringify(input.kubeletConfiguration, { sortMapEntries: true, indentSeq: false }) };
  return [
    // TLS bootstrap: joining kubelets may read nodes, create CSRs that are approved automatically
    clusterRole('kubeadm:get-nodes', [{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }]),
    clusterRoleBinding('kubeadm:get-nodes', 'kubeadm:get-nodes', [{ kind: 'Group', name: NODE_TOKEN_GROUP }]),
    clusterRoleBinding('kubeadm:kubelet-bootstrap', 'system:node-bootstrapper', [{ kind: 'Group', name: NODE_TOKEN_GROUP }]),
    clusterRoleBinding('kubeadm:node-autoapprove-bootstrap', 'system:certificates.k8s.io:certificatesigningrequests:nodeclient', [
      { kind: 'Group', name: NODE_TOKEN_GROUP },
    ]),
    clusterRoleBinding(
      'kubeadm:node-autoapprove-certificate-rotation',
      'system:certificates.k8s.io:certificatesigningrequests:selfnodeclient',
      [{ kind: 'Group', name: 'system:nodes' }],
    ),
    // cluster-info: what an anonymous joining node may read before it trusts anything
    clusterInfoConfigMap(clusterInfoKubeconfig(input.server, input.caCertPem)),
    role('kubeadm:bootstrap-signer-clusterinfo', 'kube-public', readConfigMap('cluster-info')),
    roleBinding('kubeadm:bootstrap-signer-clusterinfo', 'kube-public', 'kubeadm:bootstrap-signer-clusterinfo', [
      { kind: 'User', name: 'system:anonymous' },
    ]),
    // the cluster-wide configuration, read by joining nodes
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'kubeadm-config', namespace: 'kube-system' },
      data: { ClusterConfiguration: clusterConfigurationYaml(input.clusterConfiguration) },
    },
    role('kubeadm:nodes-kubeadm-config', 'kube-system', readConfigMap('kubeadm-config')),
    roleBinding('kubeadm:nodes-kubeadm-config', 'kube-system', 'kubeadm:nodes-kubeadm-config', [
      { kind: 'Group', name: NODE_TOKEN_GROUP },
      { kind: 'Group', name: 'system:nodes' },
    ]),
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: kubeletName,
        namespace: 'kube-system',
        ...(KUBEADM_CHANGES.addonsAfter120(input.version)
          ? { annotations: { 'kubeadm.kubernetes.io/component-config.hash': configMapChecksum(kubeletData) } }
          : {}),
      },
      data: kubeletData,
    },
    role(`kubeadm:${kubeletName}`, 'kube-system', readConfigMap(kubeletName)),
    roleBinding(`kubeadm:${kubeletName}`, 'kube-system', `kubeadm:${kubeletName}`, [
      { kind: 'Group', name: 'system:nodes' },
      { kind: 'Group', name: NODE_TOKEN_GROUP },
    ]),
    ...(KUBEADM_CHANGES.clusterAdminsGroup({ minor })
      ? [clusterRoleBinding('kubeadm:cluster-admins', 'cluster-admin', [{ kind: 'Group', name: 'kubeadm:cluster-admins' }])]
      : []),
    // the API server's kubelet client certificate no longer carries an admin group: this grants it the kubelet API
    ...(KUBEADM_CHANGES.apiServerKubeletClientBinding(input.version) ? [apiServerKubeletClientBinding()] : []),
  ];
}
