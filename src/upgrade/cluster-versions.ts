/**
 * The versions a running cluster reports, for the upgrade rules: the API server that answers
 * (/version), the version kubeadm-config records (updated only once every control plane is
 * done, so an interrupted upgrade still counts as the old version) and every Node's kubelet.
 */
import { parse } from 'yaml';
import type { ApiClient } from '../kube/api-client.js';
import type { KubeVersion } from '../util/version.js';
import { oldest, parseReported, type ClusterVersions } from './version-policy.js';

export async function readClusterVersions(api: ApiClient): Promise<ClusterVersions> {
  const served = JSON.parse((await api.request('GET', '/version')).body) as { gitVersion?: string };
  const config = (await api.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'kube-system', name: 'kubeadm-config' })) as
    { data?: Record<string, string> } | undefined;
  const recorded = (parse(config?.data?.ClusterConfiguration ?? '') as { kubernetesVersion?: string } | null)?.kubernetesVersion;
  const controlPlane = oldest([served.gitVersion, recorded]);
  if (!controlPlane)
    throw new Error(`the cluster reports no version kubestrap understands (/version: ${JSON.stringify(served.gitVersion)})`);
  const nodes = (await api.list('/api/v1/nodes')) as Array<{
    metadata: { name: string };
    status?: { nodeInfo?: { kubeletVersion?: string } };
  }>;
  const kubelets = new Map(
    nodes.flatMap((n) => {
      const v = parseReported(n.status?.nodeInfo?.kubeletVersion);
      return v ? [[n.metadata.name, v] as [string, KubeVersion]] : [];
    }),
  );
  const etcdPods = (await api.list('/api/v1/namespaces/kube-system/pods?labelSelector=component%3Detcd')) as Array<{
    spec?: { nodeName?: string; containers?: Array<{ image?: string }> };
  }>;
  const etcd = new Map(
    etcdPods.flatMap((p) => {
      const tag = p.spec?.containers?.[0]?.image?.split(':').at(-1);
      return p.spec?.nodeName && tag ? [[p.spec.nodeName, tag] as [string, string]] : [];
    }),
  );
  return { controlPlane, kubelets, etcd };
}
