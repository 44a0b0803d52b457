/**
 * An external etcd (kubeadm's etcd.external: a cluster the control planes do not run, such as
 * Kubespray's host etcd), reached the way the API server reaches it: from a control plane, with
 * the client certificate files its kubeadm-config names, through one of its endpoints.
 */
import type { Host } from '../transport/host.js';
import type { ExternalEtcd } from '../../templates/control-plane.js';
import { EtcdClient } from './client.js';

/** etcd.external as a kubeadm-config may hold it: any of its files may be missing. */
type ExternalEtcdConfig = Pick<ExternalEtcd, 'endpoints'> & Partial<Omit<ExternalEtcd, 'endpoints'>>;

/** Why kubestrap cannot use this external etcd, before any host is asked (undefined: it can try). */
export function externalEtcdProblem(external: ExternalEtcdConfig): string | undefined {
  if (external.endpoints.length === 0) return 'it names no endpoints';
  const plain = external.endpoints.filter((e) => !e.startsWith('https://'));
  if (plain.length)
    return `${plain.join(', ')} ${plain.length > 1 ? 'are' : 'is'} not https: kubestrap reaches etcd over TLS with the API server's client certificate`;
  const missing = (['caFile', 'certFile', 'keyFile'] as const).filter((f) => !external[f]);
  if (missing.length) return `it names no ${missing.join(', ')}: kubestrap reaches etcd with the API server's client certificate`;
  return undefined;
}

const usable = (external: ExternalEtcdConfig): external is ExternalEtcd => externalEtcdProblem(external) === undefined;

/**
 * A client on the first endpoint that answers a linearizable read (a member with a quorum behind
 * it), tunnelled through `host`'s SSH connection, with the files read on `host`. Throws with the
 * reason kubestrap cannot use it, or every endpoint's reason when none answers (the caller names
 * the host).
 */
export async function openExternalEtcd(host: Host, external: ExternalEtcdConfig): Promise<EtcdClient> {
  if (!usable(external)) throw new Error(externalEtcdProblem(external));
  const paths = [external.caFile, external.certFile, external.keyFile];
  const files = await host.readFiles(paths);
  const missing = paths.filter((p) => !files.get(p));
  if (missing.length) throw new Error(`no ${missing.join(', ')} there (the external etcd's client files its API server is to use)`);
  const [ca, cert, key] = paths.map((p) => files.get(p)!.content.toString('utf8'));
  const problems: string[] = [];
  for (const endpoint of external.endpoints) {
    let client: EtcdClient | undefined;
    try {
      client = await EtcdClient.via(host, endpoint, { ca: ca!, cert: cert!, key: key! });
      await client.linearizableRead();
      return client;
    } catch (err) {
      problems.push(`${endpoint}: ${(err as Error).message}`);
      await client?.close();
    }
  }
  throw new Error(`no member of the external etcd answers (${problems.join('; ')})`);
}
