/**
 * A small typed Kubernetes API client: over a port forwarded through the control plane's SSH
 * connection (the API need not be reachable from the workstation) with the admin kubeconfig's
 * client certificate, or straight to the endpoint with a bootstrap token (a joining node).
 * Objects are created or replaced (kubeadm's create-or-update; the 1.20 API server fails
 * server-side apply of some kinds), and callers compare with the live object first.
 */
import { USER_AGENT } from '../util/product.js';
import { request } from 'node:https';
import { parse } from 'yaml';
import type { Host, PortForward } from '../transport/host.js';
import type { KubeObject } from '../../templates/objects.js';
import { pollUntil } from '../util/poll.js';

/** How the client proves who it is: a client certificate (admin.conf) or a bearer token (bootstrap). */
export interface Credentials {
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
  readonly token?: string;
}

/** Where the API answers: a forwarded local port or the endpoint itself. */
interface Endpoint {
  readonly host: string;
  readonly port: number;
  /** TLS server name to check; undefined checks `host` itself (an IP address SAN). */
  readonly servername?: string;
  close(): Promise<void>;
}

/** Client credentials from a kubeconfig with embedded data (as admin.conf has). */
export function kubeconfigCredentials(kubeconfig: string): Required<Omit<Credentials, 'token'>> {
  const doc = parse(kubeconfig) as {
    clusters?: Array<{ cluster: Record<string, string> }>;
    users?: Array<{ user: Record<string, string> }>;
  };
  const cluster = doc.clusters?.[0]?.cluster ?? {};
  const user = doc.users?.[0]?.user ?? {};
  const decode = (field: string, value?: string) => {
    if (!value) throw new Error(`kubeconfig has no ${field}`);
    return Buffer.from(value, 'base64').toString('utf8');
  };
  return {
    ca: decode('certificate-authority-data', cluster['certificate-authority-data']),
    cert: decode('client-certificate-data', user['client-certificate-data']),
    key: decode('client-key-data', user['client-key-data']),
  };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Kind → plural resource name: Kubernetes' regular English plural, with its few exceptions. */
export function pluralOf(kind: string): string {
  const lower = kind.toLowerCase();
  if (lower === 'endpoints') return lower;
  if (/(s|x|ch|sh)$/.test(lower)) return `${lower}es`;
  if (/[^aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  return `${lower}s`;
}

export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
}

export function objectPath(ref: ObjectRef): string {
  const plural = pluralOf(ref.kind);
  const base = ref.apiVersion.includes('/') ? `/apis/${ref.apiVersion}` : `/api/${ref.apiVersion}`;
  return `${base}${ref.namespace ? `/namespaces/${ref.namespace}` : ''}/${plural}/${encodeURIComponent(ref.name)}`;
}

export const refOf = (o: KubeObject): ObjectRef => ({
  apiVersion: o.apiVersion,
  kind: o.kind,
  name: o.metadata.name,
  namespace: o.metadata.namespace,
});

/** A restarted API server turns ready within seconds: asked often, so nothing waits for the next poll. */
const READY_POLL_MS = 500;

export class ApiClient {
  private constructor(
    private readonly endpoint: Endpoint,
    private readonly credentials: Credentials,
  ) {}

  /** Forwards the node's API port to the workstation and authenticates with the kubeconfig. */
  static async open(host: Host, apiPort: number, kubeconfig: string): Promise<ApiClient> {
    const forward: PortForward = await host.forward(apiPort);
    // the serving certificate names the cluster, not the forwarded loopback address
    return new ApiClient(
      { host: forward.address, port: forward.localPort, servername: 'kubernetes', close: () => forward.close() },
      kubeconfigCredentials(kubeconfig),
    );
  }

  /** Talks to `server` (https://host:port) directly, e.g. from a joining node. */
  static direct(server: string, credentials: Credentials): ApiClient {
    const url = new URL(server);
    return new ApiClient(
      { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 443), close: async () => undefined },
      credentials,
    );
  }

  async request(
    method: string,
    path: string,
    body?: string,
    contentType = 'application/json',
    timeoutMs = 30_000,
  ): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: this.endpoint.host,
          port: this.endpoint.port,
          ...(this.endpoint.servername ? { servername: this.endpoint.servername } : {}),
          method,
          path,
          ca: this.credentials.ca,
          cert: this.credentials.cert,
          key: this.credentials.key,
          headers: {
            accept: 'application/json',
            'user-agent': USER_AGENT,
            ...(this.credentials.token ? { authorization: `Bearer ${this.credentials.token}` } : {}),
            ...(body ? { 'content-type': contentType, 'content-length': Buffer.byteLength(body) } : {}),
          },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`API request ${method} ${path} timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  private async json(method: string, path: string, body?: string, contentType?: string): Promise<unknown> {
    const res = await this.request(method, path, body, contentType);
    if (res.status >= 300) {
      const message = (() => {
        try {
          return (JSON.parse(res.body) as { message?: string }).message ?? res.body;
        } catch {
          return res.body;
        }
      })();
      throw new ApiError(res.status, `${method} ${path}: ${res.status} ${message}`);
    }
    return JSON.parse(res.body);
  }

  /** The live object, or undefined when it does not exist. */
  async get(ref: ObjectRef): Promise<Record<string, unknown> | undefined> {
    try {
      return (await this.json('GET', objectPath(ref))) as Record<string, unknown>;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  async list(path: string): Promise<Array<Record<string, unknown>>> {
    return ((await this.json('GET', path)) as { items: Array<Record<string, unknown>> }).items;
  }

  /** Creates the object, or replaces the existing one with it (kubeadm's create-or-update). */
  async apply(object: KubeObject): Promise<void> {
    const path = objectPath(refOf(object));
    try {
      await this.json('POST', path.slice(0, path.lastIndexOf('/')), JSON.stringify(object));
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 409)) throw err;
      const live = (await this.json('GET', path)) as { metadata: { resourceVersion: string } };
      await this.json(
        'PUT',
        path,
        JSON.stringify({ ...object, metadata: { ...object.metadata, resourceVersion: live.metadata.resourceVersion } }),
      );
    }
  }

  /**
   * Whether the API server is ready: /readyz also waits for its informers (the authorizer's
   * among them), which /livez does not — a live but unready API server can still refuse
   * requests it will allow a moment later. A restarting one answers nothing, so each try is short.
   */
  async ready(): Promise<boolean> {
    return (await this.request('GET', '/readyz', undefined, undefined, 5000).catch(() => ({ status: 0 }))).status === 200;
  }

  /** Waits until the API server is ready, for `timeoutMs` (callers restart it only after the old process has gone). */
  async waitReady(timeoutMs: number, failure: string): Promise<void> {
    await pollUntil(() => this.ready(), { timeoutMs, intervalMs: READY_POLL_MS, failure: () => failure });
  }

  /** Evicts a pod through the eviction API (honours PodDisruptionBudgets); false when it is gone. */
  async evict(namespace: string, name: string): Promise<boolean> {
    const body = JSON.stringify({ apiVersion: 'policy/v1beta1', kind: 'Eviction', metadata: { name, namespace } });
    try {
      await this.json('POST', `/api/v1/namespaces/${namespace}/pods/${encodeURIComponent(name)}/eviction`, body);
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return false;
      throw err;
    }
  }

  async patch(ref: ObjectRef, patch: unknown): Promise<void> {
    await this.json('PATCH', objectPath(ref), JSON.stringify(patch), 'application/strategic-merge-patch+json');
  }

  /** Approves a certificate signing request (the approval subresource takes the whole object). */
  async approveCsr(csr: Record<string, unknown>, message: string): Promise<void> {
    const name = (csr.metadata as { name: string }).name;
    const conditions = [
      {
        type: 'Approved',
        status: 'True',
        reason: 'KubestrapApprove',
        message,
        lastUpdateTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      },
    ];
    await this.json(
      'PUT',
      `/apis/certificates.k8s.io/v1/certificatesigningrequests/${encodeURIComponent(name)}/approval`,
      JSON.stringify({ ...csr, status: { conditions } }),
    );
  }

  /** Deletes an object; `gracePeriodSeconds: 0` removes a pod at once, as the pod garbage collector does. */
  async delete(ref: ObjectRef, options: { gracePeriodSeconds?: number } = {}): Promise<boolean> {
    try {
      const grace = options.gracePeriodSeconds === undefined ? '' : `?gracePeriodSeconds=${options.gracePeriodSeconds}`;
      await this.json('DELETE', `${objectPath(ref)}${grace}`);
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return false;
      throw err;
    }
  }

  close(): Promise<void> {
    return this.endpoint.close();
  }
}
