/**
 * How a joining node learns whom to trust (kubeadm-spec §5.5). Token discovery: fetch
 * kube-public/cluster-info without trusting anything, verify the bootstrapsigner's JWS over it
 * with the token's secret, check the CA it names against the pinned public-key hash, then fetch
 * it again trusting only that CA and require the same bytes. File discovery: a kubeconfig that
 * names the server and CA. Every failure users meet in practice gets a message of its own.
 */
import { request } from 'node:https';
import { parse } from 'yaml';
import type { BootstrapToken } from '../pki/bootstrap-token.js';
import { caPin, pinMatches, pinnedCertificates } from '../pki/ca-pin.js';
import { verifyDetached } from '../pki/jws.js';

/** An error the operator can act on; never contains the token or its secret. */
export class JoinError extends Error {}

export interface Discovered {
  /** The API endpoint the cluster publishes (https://host:port), written into the node's kubeconfigs. */
  readonly server: string;
  readonly caCertPem: string;
  /**
   * Where discovery reached an API server: used while joining, since the published endpoint
   * may only work once the node is prepared (a node-local balancer's name).
   */
  readonly via: string;
}

export interface DiscoveryOptions {
  readonly timeoutMs: number;
  /** Seconds between attempts while the endpoint is unreachable or the signature not there yet. */
  readonly retryMs?: number;
  /** A larger difference between this machine's clock and the API server's is refused. */
  readonly maxClockSkewMs?: number;
  readonly log?: (line: string) => void;
}

const CLUSTER_INFO_PATH = '/api/v1/namespaces/kube-public/configmaps/cluster-info';
export const DEFAULT_MAX_CLOCK_SKEW_MS = 5 * 60_000;
export const TOKEN_HINT =
  'create a new one on the workstation with `kubestrap token create --print-join-command -i INVENTORY` (or on a control plane without -i)';

interface Fetched {
  readonly status: number;
  readonly body: string;
  readonly serverDate?: Date;
}

/** GET over TLS: trusting `ca`, or nothing at all (the first, unauthenticated discovery step). */
export function fetchTls(server: string, path: string, trust: { ca: string } | 'insecure', timeoutMs = 10_000): Promise<Fetched> {
  const url = new URL(path, server);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'GET',
        headers: { accept: 'application/json' },
        timeout: timeoutMs,
        ...(trust === 'insecure' ? { rejectUnauthorized: false } : { ca: trust.ca }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const date = res.headers.date ? new Date(res.headers.date) : undefined;
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            ...(date && !Number.isNaN(date.getTime()) ? { serverDate: date } : {}),
          });
        });
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end();
  });
}

/** "https://host:port" for an endpoint given as host:port (kubeadm's argument form). */
export function endpointServer(endpoint: string): string {
  const server = /^https:\/\//.test(endpoint) ? endpoint : `https://${endpoint}`;
  const url = new URL(server);
  if (!url.port) throw new JoinError(`API endpoint ${JSON.stringify(endpoint)} has no port: write host:port, e.g. 10.0.0.10:6443`);
  return `https://${url.host}`;
}

function describeSkew(skewMs: number): string {
  const minutes = Math.round(Math.abs(skewMs) / 60_000);
  return `${minutes >= 120 ? `${Math.round(minutes / 60)} h` : `${minutes} min`} ${skewMs > 0 ? 'ahead of' : 'behind'}`;
}

export function checkClockSkew(serverDate: Date | undefined, now: Date, maxSkewMs: number, server: string): void {
  if (!serverDate) return;
  const skew = now.getTime() - serverDate.getTime();
  if (Math.abs(skew) <= maxSkewMs) return;
  throw new JoinError(
    `this node's clock (${now.toISOString()}) is ${describeSkew(skew)} the API server's at ${server} (${serverDate.toISOString()}): ` +
      'certificates and tokens are checked against time, so the join would fail later in confusing ways. Fix time sync (chrony/systemd-timesyncd) and retry.',
  );
}

function networkProblem(err: unknown, server: string): JoinError {
  const code = (err as { code?: string }).code ?? '';
  const reason: Record<string, string> = {
    ECONNREFUSED: 'connection refused: nothing listens there (is the API server running, is the port right?)',
    ETIMEDOUT: 'no answer: a firewall may drop the traffic, or the address is wrong',
    EHOSTUNREACH: 'no route to the host',
    ENETUNREACH: 'no route to that network',
    ENOTFOUND: 'the name does not resolve',
  };
  return new JoinError(
    `cannot reach the API server at ${server}: ${reason[code] ?? (err as Error).message}. Check the endpoint and that this node can reach it (e.g. curl -k ${server}/version).`,
  );
}

interface ClusterInfo {
  readonly kubeconfig: string;
  readonly signatures: Readonly<Record<string, string>>;
}

function parseClusterInfo(body: string): ClusterInfo {
  const data = (JSON.parse(body) as { data?: Record<string, string> }).data ?? {};
  if (!data.kubeconfig)
    throw new JoinError(
      'the cluster publishes a cluster-info ConfigMap without a kubeconfig: the control plane is not set up for joins (was it created by kubeadm or kubestrap?)',
    );
  return { kubeconfig: data.kubeconfig, signatures: data };
}

/** The single cluster of a cluster-info (or discovery-file) kubeconfig. */
export function kubeconfigCluster(kubeconfig: string, source: string): Omit<Discovered, 'via'> {
  let doc: { clusters?: Array<{ cluster?: Record<string, string> }> };
  try {
    doc = parse(kubeconfig) as typeof doc;
  } catch (err) {
    throw new JoinError(`${source}: not a kubeconfig (${(err as Error).message.split('\n')[0]})`);
  }
  const clusters = doc?.clusters ?? [];
  if (clusters.length !== 1) throw new JoinError(`${source}: expected exactly one cluster, found ${clusters.length}`);
  const cluster = clusters[0]!.cluster ?? {};
  const caData = cluster['certificate-authority-data'];
  if (!cluster.server || !caData) throw new JoinError(`${source}: the cluster entry needs server and certificate-authority-data`);
  return { server: cluster.server, caCertPem: Buffer.from(caData, 'base64').toString('utf8') };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Token discovery against `endpoint` (host:port). `pins` empty means --discovery-token-unsafe-skip-ca-verification. */
export async function discoverWithToken(
  endpoint: string,
  token: BootstrapToken,
  pins: readonly string[],
  options: DiscoveryOptions,
): Promise<Discovered> {
  const server = endpointServer(endpoint);
  const deadline = Date.now() + options.timeoutMs;
  const retryMs = options.retryMs ?? 2000;
  let lastProblem: JoinError | undefined;
  let info: ClusterInfo | undefined;
  let jws: string | undefined;
  while (!jws) {
    if (lastProblem && Date.now() + retryMs > deadline) throw lastProblem;
    if (lastProblem) {
      options.log?.(`${lastProblem.message} — retrying in ${retryMs / 1000} s`);
      await sleep(retryMs);
    }
    let fetched: Fetched;
    try {
      fetched = await fetchTls(server, CLUSTER_INFO_PATH, 'insecure');
    } catch (err) {
      lastProblem = networkProblem(err, server);
      continue;
    }
    checkClockSkew(fetched.serverDate, new Date(), options.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS, server);
    if (fetched.status === 403 || fetched.status === 401)
      throw new JoinError(
        `${server} refuses anonymous reads of kube-public/cluster-info (HTTP ${fetched.status}): the cluster lacks kubeadm's bootstrap RBAC, so token discovery cannot work; use --discovery-file`,
      );
    if (fetched.status !== 200) {
      lastProblem = new JoinError(
        `${server} answered HTTP ${fetched.status} for kube-public/cluster-info: is this a Kubernetes API server set up for joins?`,
      );
      continue;
    }
    info = parseClusterInfo(fetched.body);
    jws = info.signatures[`jws-kubeconfig-${token.id}`];
    if (!jws)
      lastProblem = new JoinError(
        `the cluster does not know token "${token.id}": it has expired or was deleted (the cluster publishes no signature for it). ${TOKEN_HINT}.`,
      );
  }
  if (!verifyDetached(jws, info!.kubeconfig, token)) {
    throw new JoinError(
      `cluster-info from ${server} is not signed by token "${token.id}": the signature does not verify with the token's secret. Either the token was mistyped, or someone between this node and ${server} altered the answer. Nothing was written.`,
    );
  }
  const published = kubeconfigCluster(info!.kubeconfig, `cluster-info from ${server}`);
  if (pins.length && !pinMatches(published.caCertPem, pins)) {
    throw new JoinError(
      `the cluster's CA does not match --discovery-token-ca-cert-hash: ${server} presents a CA whose public key hash is ${caPin(published.caCertPem)}, but the command expects ${pins.join(' or ')}. This is not the cluster the join command was made for (or the hash was copied wrong). Nothing was written.`,
    );
  }
  // from here on only the pinned CA is trusted, by the second fetch (what was verified is what the
  // cluster serves) and by the files written
  const discovered = pins.length ? { ...published, caCertPem: pinnedCertificates(published.caCertPem, pins) } : published;
  let again: Fetched;
  try {
    again = await fetchTls(server, CLUSTER_INFO_PATH, { ca: discovered.caCertPem });
  } catch (err) {
    throw tlsProblem(err, server);
  }
  if (again.status !== 200 || parseClusterInfo(again.body).kubeconfig !== info!.kubeconfig) {
    throw new JoinError(
      `cluster-info changed between the unverified and the verified fetch from ${server}: refusing to continue (retry; if it persists, something rewrites the traffic)`,
    );
  }
  return { ...discovered, via: server };
}

/** File discovery: the kubeconfig names server and CA; the cluster must answer with that CA. */
export async function discoverWithFile(kubeconfig: string, file: string, options: DiscoveryOptions): Promise<Discovered> {
  const discovered = kubeconfigCluster(kubeconfig, file);
  let fetched: Fetched;
  try {
    fetched = await fetchTls(discovered.server, CLUSTER_INFO_PATH, { ca: discovered.caCertPem });
  } catch (err) {
    throw tlsProblem(err, discovered.server);
  }
  checkClockSkew(fetched.serverDate, new Date(), options.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS, discovered.server);
  return { ...discovered, via: discovered.server };
}

function tlsProblem(err: unknown, server: string): JoinError {
  const code = (err as { code?: string }).code ?? '';
  if (code === 'CERT_NOT_YET_VALID' || code === 'CERT_HAS_EXPIRED') {
    return new JoinError(
      `the API server's certificate at ${server} is ${code === 'CERT_HAS_EXPIRED' ? 'expired' : 'not yet valid'} by this node's clock (${new Date().toISOString()}): check the clock (time sync) here and on the control plane${code === 'CERT_HAS_EXPIRED' ? ', or renew the certificates (kubestrap certs renew)' : ''}`,
    );
  }
  if (/self.signed|unable to verify|UNABLE_TO_VERIFY|DEPTH_ZERO|SELF_SIGNED/i.test(`${code} ${(err as Error).message}`)) {
    return new JoinError(
      `the API server at ${server} presents a certificate not signed by the cluster CA: another server answers at that address`,
    );
  }
  return networkProblem(err, server);
}
