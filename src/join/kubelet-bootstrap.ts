/**
 * What makes a kubelet join (kubeadm-spec §5.5 step 7, §9): the cluster CA, a bootstrap
 * kubeconfig holding the token, the kubelet's own files, then the kubelet (re)started; its TLS
 * bootstrap turns the token into a client certificate (kubelet.conf). Used by the inventory
 * join (from the workstation) and by `kubestrap join` (on the node).
 */
import { parse } from 'yaml';
import { requireService } from '../facts/services.js';
import { ApiClient } from '../kube/api-client.js';
import { formatToken, type BootstrapToken } from '../pki/bootstrap-token.js';
import { buildKubeconfig, serializeKubeconfig } from '../pki/kubeconfig.js';
import { applyFiles, planFiles, type DesiredFile } from '../kit/managed-files.js';
import type { HostTarget } from '../kit/phase.js';
import { pollUntil } from '../util/poll.js';
import { BOOTSTRAP_KUBELET_CONF, CA_CERT, KUBELET_CLIENT_CURRENT, KUBELET_CONF } from '../../templates/paths.js';

export interface BootstrapInput {
  readonly clusterName: string;
  readonly server: string;
  readonly caCertPem: string;
  readonly token: BootstrapToken;
  /** config.yaml, kubeadm-flags.env and the systemd drop-in. */
  readonly kubeletFiles: readonly DesiredFile[];
}

export function bootstrapFiles(input: BootstrapInput): DesiredFile[] {
  const bootstrap = serializeKubeconfig(
    buildKubeconfig({
      clusterName: input.clusterName,
      server: input.server,
      caCertPem: input.caCertPem,
      userName: 'tls-bootstrap-token-user',
      credentials: { token: formatToken(input.token) },
    }),
  );
  return [
    { path: CA_CERT, content: input.caCertPem, mode: 0o644 },
    { path: BOOTSTRAP_KUBELET_CONF, content: bootstrap, mode: 0o600, secret: true },
    ...input.kubeletFiles,
  ];
}

/** Writes the files and (re)starts the kubelet so that it bootstraps with them. */
export async function startKubeletBootstrap(target: HostTarget, input: BootstrapInput): Promise<void> {
  const kubelet = requireService(target.facts.initSystem, 'kubelet');
  await applyFiles(target.host, await planFiles(target.host, bootstrapFiles(input)));
  await target.host.check(`${kubelet.enableNow()} && ${kubelet.restart()}`);
}

const BOOTSTRAP_WAIT_MS = 240_000;

/**
 * Waits until the kubelet holds its own credentials (kubelet.conf), then removes the bootstrap
 * kubeconfig as kubeadm does: the token on disk is worthless from then on and should not linger.
 */
export async function awaitKubeletBootstrap(target: HostTarget): Promise<void> {
  await pollUntil(() => target.host.exists(KUBELET_CONF), {
    timeoutMs: BOOTSTRAP_WAIT_MS,
    failure: async () => {
      const journal = await target.host.exec(`${requireService(target.facts.initSystem, 'kubelet').logs(8)} 2>/dev/null | cut -c1-300`);
      return `the kubelet on ${target.spec.name} did not finish its TLS bootstrap within ${BOOTSTRAP_WAIT_MS / 1000} s (no ${KUBELET_CONF}); its last log lines:\n${journal.stdout.trim()}`;
    },
  });
  await target.host.check(`rm -f ${BOOTSTRAP_KUBELET_CONF}`);
}

/** The kubelet's client credentials after its TLS bootstrap (kubelet.conf points at a rotating PEM). */
async function kubeletCredentials(target: HostTarget): Promise<string> {
  const conf = (await target.host.readFiles([KUBELET_CONF])).get(KUBELET_CONF)!.content.toString('utf8');
  const user = (parse(conf) as { users?: Array<{ user?: Record<string, string> }> }).users?.[0]?.user ?? {};
  if (user['client-certificate-data'])
    return (
      Buffer.from(user['client-certificate-data'], 'base64').toString('utf8') +
      Buffer.from(user['client-key-data'] ?? '', 'base64').toString('utf8')
    );
  const path = user['client-certificate'] ?? KUBELET_CLIENT_CURRENT;
  return (await target.host.readFiles([path])).get(path)!.content.toString('utf8');
}

/** Waits, with the kubelet's own identity, until its Node object exists: the join is visible to the cluster. */
export async function awaitNodeRegistered(target: HostTarget, server: string, caCertPem: string, nodeName: string): Promise<void> {
  const pem = await kubeletCredentials(target);
  const blocks = pem.match(/-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----\n?/g) ?? [];
  const api = ApiClient.direct(server, {
    ca: caCertPem,
    cert: blocks.filter((b) => b.includes('CERTIFICATE')).join(''),
    key: blocks.filter((b) => b.includes('PRIVATE KEY')).join(''),
  });
  await pollUntil(() => api.get({ apiVersion: 'v1', kind: 'Node', name: nodeName }), {
    timeoutMs: BOOTSTRAP_WAIT_MS,
    intervalMs: 1000,
    failure: () =>
      `the kubelet has its credentials but registered no Node ${nodeName} within ${BOOTSTRAP_WAIT_MS / 1000} s (journalctl -u kubelet)`,
  });
}
