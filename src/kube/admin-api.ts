/** The cluster's API as a control plane's admin, reached through that node's connection. */
import { API_PORT } from '../inventory/resolve.js';
import type { HostTarget, PhaseContext } from '../kit/phase.js';
import { ApiClient } from './api-client.js';
import { ADMIN_CONF, CA_CERT } from '../../templates/paths.js';

async function readAdmin(target: HostTarget): Promise<{ admin: string; ca: string } | undefined> {
  const files = await target.host.readFiles([ADMIN_CONF, CA_CERT]);
  const admin = files.get(ADMIN_CONF)?.content.toString('utf8');
  const ca = files.get(CA_CERT)?.content.toString('utf8');
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

/** requireApi through the connected host `name` (another control plane than the one a command works on). */
export function requireApiOf<T>(
  ctx: PhaseContext,
  name: string,
  missing: string,
  use: (api: ApiClient, ca: string) => Promise<T>,
): Promise<T> {
  const target = ctx.hosts.find((h) => h.spec.name === name);
  if (!target) throw new Error(`${name} (the control plane whose API is used: ${missing}) did not connect`);
  return requireApi(target, missing, use);
}
