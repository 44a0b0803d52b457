/**
 * How the cluster-level commands (token, upload-certs) reach a control plane: from the
 * workstation through the inventory (SSH to the first control plane, its admin.conf), or on a
 * control-plane node itself (this machine's admin.conf), like kubeadm. Either way the caller
 * gets a Host on that control plane, so files (the CA material) are read the same way.
 */
import { Command } from 'commander';
import { parse } from 'yaml';
import { API_PORT, isControlPlane } from '../inventory/resolve.js';
import { RunLog } from '../log/run-log.js';
import { outsideServer } from '../pki/from-inventory.js';
import { ApiClient } from '../kube/api-client.js';
import { Host } from '../transport/host.js';
import { LocalChannel } from '../transport/local.js';
import { connectTarget } from '../kit/connect.js';
import { UsageError } from './errors.js';
import { openSession, SSH_CONFIG_FLAG } from './session.js';
import { ADMIN_CONF } from '../../templates/paths.js';

export interface ClusterAccessOptions {
  inventory?: string;
  kubeconfig?: string;
  acceptNewHostKeys?: boolean;
  knownHosts?: string;
  sshConfig?: string;
  logFile?: string;
}

export interface ControlPlaneAccess {
  readonly api: ApiClient;
  /** The control plane: over SSH, or this machine. */
  readonly host: Host;
  /** The endpoint nodes join (https://host:port). */
  readonly server: string;
  readonly caCertPem: string;
}

export function addClusterAccessOptions(cmd: Command): Command {
  return cmd
    .option('-i, --inventory <file>', "reach the cluster from this workstation: the inventory's first control plane, over SSH")
    .option('--kubeconfig <file>', `on a control-plane node: the admin kubeconfig to use (default ${ADMIN_CONF})`)
    .option('--accept-new-host-keys', 'with --inventory: record an unknown host key instead of refusing it')
    .option('--known-hosts <file>', 'with --inventory: known_hosts file (default: hostDefaults.knownHostsFile)')
    .option(SSH_CONFIG_FLAG[0], `with --inventory: ${SSH_CONFIG_FLAG[1]}`)
    .option('--log-file <file>', 'with --inventory: where to write the run log');
}

function kubeconfigServer(kubeconfig: string): { server: string; ca: string } {
  const doc = parse(kubeconfig) as { clusters?: Array<{ cluster?: Record<string, string> }> };
  const cluster = doc.clusters?.[0]?.cluster ?? {};
  if (!cluster.server || !cluster['certificate-authority-data']) throw new Error('the admin kubeconfig names no server or CA');
  return { server: cluster.server, ca: Buffer.from(cluster['certificate-authority-data'], 'base64').toString('utf8') };
}

async function readAdmin(host: Host, path: string): Promise<string> {
  const file = (await host.readFiles([path])).get(path);
  if (!file)
    throw new Error(`${host.name}: ${path} does not exist: run this on a control-plane node, or from the workstation with --inventory`);
  return file.content.toString('utf8');
}

/** Runs `use` with the API of the cluster and a Host on one of its control planes; closes both. */
export async function withControlPlane<T>(
  command: string,
  options: ClusterAccessOptions,
  use: (access: ControlPlaneAccess) => Promise<T>,
): Promise<T> {
  if (options.inventory && options.kubeconfig)
    throw new UsageError(
      '--inventory and --kubeconfig exclude each other: --inventory works from the workstation, --kubeconfig on a control-plane node',
    );
  if (options.inventory) {
    const session = await openSession(command, { inventory: options.inventory, concurrency: '1', output: 'silent', ...pick(options) });
    try {
      const target = session.targets.find((t) => isControlPlane(t.host))!;
      const connected = await connectTarget(target, session.connect);
      try {
        const admin = await readAdmin(connected.host, ADMIN_CONF);
        const api = await ApiClient.open(connected.host, API_PORT, admin);
        const server = outsideServer(session.loaded.inventory, target.host);
        try {
          return await use({ api, host: connected.host, server, caCertPem: kubeconfigServer(admin).ca });
        } finally {
          await api.close();
        }
      } finally {
        await connected.host.close();
      }
    } finally {
      await session.log.close();
    }
  }
  const log = RunLog.disabled();
  const host = new Host('localhost', new LocalChannel(), { kind: 'root' }, log);
  const admin = await readAdmin(host, options.kubeconfig ?? ADMIN_CONF);
  const { server, ca } = kubeconfigServer(admin);
  const api = await ApiClient.open(host, Number(new URL(server).port || 443), admin);
  try {
    return await use({ api, host, server, caCertPem: ca });
  } finally {
    await api.close();
    await host.close();
  }
}

function pick(options: ClusterAccessOptions) {
  return {
    ...(options.acceptNewHostKeys ? { acceptNewHostKeys: true } : {}),
    ...(options.knownHosts ? { knownHosts: options.knownHosts } : {}),
    ...(options.sshConfig ? { sshConfig: options.sshConfig } : {}),
    ...(options.logFile ? { logFile: options.logFile } : {}),
  };
}
