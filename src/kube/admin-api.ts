/** The cluster's API as a control plane's admin, reached through that node's connection. */
import { API_PORT } from '../inventory/resolve.js';
import type { HostTarget } from '../workflow/phase.js';
import { ApiClient } from './api-client.js';

async function readAdmin(target: HostTarget): Promise<{ admin: string; ca: string } | undefined> {
  const files = await target.host.readFiles(['/etc/kubernetes/admin.conf', '/etc/kubernetes/pki/ca.crt']);
  const admin = files.get('/etc/kubernetes/admin.conf')?.content.toString('utf8');
  const ca = files.get('/etc/kubernetes/pki/ca.crt')?.content.toString('utf8');
  return admin && ca ? { admin, ca } : undefined;
}

/** Runs `use` with the API as admin and the cluster CA; undefined when the node has no admin.conf or CA yet. */
export async function withApi<T>(target: HostTarget, use: (api: ApiClient, ca: string) => Promise<T>): Promise<T | undefined> {
  const creds = await readAdmin(target);
  if (!creds) return undefined;
  const api = await ApiClient.open(target.host, API_PORT, creds.admin);
  try {
    return await use(api, creds.ca);
  } finally {
    await api.close();
  }
}

/** withApi for callers that cannot go on without the API: `missing` explains why it is needed. */
export async function requireApi<T>(target: HostTarget, missing: string, use: (api: ApiClient, ca: string) => Promise<T>): Promise<T> {
  const boxed = await withApi(target, async (api, ca) => ({ value: await use(api, ca) }));
  if (!boxed) throw new Error(`${target.spec.name} has no admin kubeconfig (/etc/kubernetes/admin.conf): ${missing}`);
  return boxed.value;
}
