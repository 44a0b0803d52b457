/**
 * `kubestrap join` — run on the node itself, like `kubeadm join`: token discovery (or a
 * discovery file), then this machine is prepared and joined through the same phases `apply`
 * uses, over a local transport. Every flag is checked before anything is contacted; the token
 * never reaches the log, the screen or another process's argv.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { PHASE_GROUPS, preparePhases } from '../../phases/index.js';
import { joinControlPlaneNodePhase, joinNodePhase } from '../../phases/join-node.js';
import { probeFacts } from '../facts/probe.js';
import { loadInventory } from '../inventory/load.js';
import { resolveHosts } from '../inventory/resolve.js';
import type { Inventory } from '../inventory/schema.js';
import { readClusterSettings, joinInventory } from '../join/cluster-settings.js';
import { discoverWithFile, discoverWithToken, endpointServer, JoinError, type Discovered } from '../join/discovery.js';
import { ApiClient } from '../kube/api-client.js';
import { downloadCerts } from '../kube/upload-certs.js';
import { RunLog } from '../log/run-log.js';
import { validateCertificateKey } from '../pki/certificate-key.js';
import { parseToken, formatToken, type BootstrapToken } from '../pki/bootstrap-token.js';
import { validatePin } from '../pki/ca-pin.js';
import { Host } from '../transport/host.js';
import { quote } from '../transport/quote.js';
import { LocalChannel } from '../transport/local.js';
import { durationSeconds } from '../util/duration.js';
import type { Phase } from '../kit/phase.js';
import { formatPlan, formatSummary, reportJson } from '../workflow/report.js';
import { preflightGate } from '../preflight/checks.js';
import { runWorkflow, selectPhases, type RendererChoice } from '../workflow/runner.js';
import { UsageError } from './errors.js';
import { commaList } from '../util/comma-list.js';

interface JoinOptions {
  token?: string;
  discoveryTokenCaCertHash: string[];
  discoveryTokenUnsafeSkipCaVerification?: boolean;
  discoveryFile?: string;
  tlsBootstrapToken?: string;
  discoveryTimeout: string;
  nodeName?: string;
  criSocket?: string;
  config?: string;
  controlPlane?: boolean;
  certificateKey?: string;
  skipPhases?: string;
  ignorePreflightErrors?: string;
  logFile?: string;
  output: RendererChoice;
}

const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

interface JoinRequest {
  readonly endpoint?: string;
  readonly token: BootstrapToken;
  readonly pins: string[];
  readonly timeoutMs: number;
}

/** All flag problems at once, before any connection; token text is never echoed. */
function joinRequest(endpoint: string | undefined, options: JoinOptions): JoinRequest {
  const problems: string[] = [];
  const tokenText = options.tlsBootstrapToken ?? options.token;
  let token: BootstrapToken | undefined;
  if (!tokenText) problems.push('--token is required (the bootstrap token from `kubestrap token create --print-join-command`)');
  else {
    try {
      token = parseToken(tokenText);
    } catch (err) {
      problems.push(`--token: ${(err as Error).message}`);
    }
  }
  if (options.discoveryFile) {
    if (endpoint) problems.push('give either the API endpoint (token discovery) or --discovery-file, not both');
  } else {
    if (!endpoint)
      problems.push(
        'the API endpoint (host:port) is required, e.g. kubestrap join 10.0.0.10:6443 --token … --discovery-token-ca-cert-hash sha256:…',
      );
    else {
      try {
        endpointServer(endpoint);
      } catch (err) {
        problems.push((err as Error).message);
      }
    }
    for (const pin of options.discoveryTokenCaCertHash) {
      const problem = validatePin(pin);
      if (problem) problems.push(`--discovery-token-ca-cert-hash: ${problem}`);
    }
    if (!options.discoveryTokenCaCertHash.length && !options.discoveryTokenUnsafeSkipCaVerification) {
      problems.push(
        '--discovery-token-ca-cert-hash is required: without it this node would trust whatever answers at the endpoint (pass --discovery-token-unsafe-skip-ca-verification to accept that risk)',
      );
    }
  }
  const seconds = durationSeconds(options.discoveryTimeout);
  if (!(seconds > 0)) problems.push(`--discovery-timeout ${JSON.stringify(options.discoveryTimeout)}: expected a duration like 5m or 30s`);
  if (options.nodeName && (!NODE_NAME.test(options.nodeName) || options.nodeName.length > 253))
    problems.push(`--node-name ${JSON.stringify(options.nodeName)}: must be a lower-case DNS subdomain (a-z, 0-9, '-', '.')`);
  if (options.controlPlane && options.certificateKey === undefined)
    problems.push(
      '--control-plane needs --certificate-key: the key that decrypts the uploaded certificates (kubestrap certs upload prints it)',
    );
  if (!options.controlPlane && options.certificateKey !== undefined) problems.push('--certificate-key is only for --control-plane joins');
  if (options.certificateKey !== undefined) {
    const problem = validateCertificateKey(options.certificateKey);
    if (problem) problems.push(`--certificate-key: ${problem}`);
  }
  if (options.criSocket && !/^unix:\/\/\/\S+$/.test(options.criSocket))
    problems.push(`--cri-socket ${JSON.stringify(options.criSocket)}: expected unix:///path/to/socket`);
  if (problems.length) throw new UsageError(problems.join('\n'));
  return { ...(endpoint ? { endpoint } : {}), token: token!, pins: options.discoveryTokenCaCertHash, timeoutMs: seconds * 1000 };
}

/** The address this node reaches the API server from: what it advertises as its node IP. */
async function sourceAddress(host: Host, server: string): Promise<string> {
  const target = new URL(server).hostname.replace(/^\[|\]$/g, '');
  const route = await host.exec(`ip -o route get ${quote(target)}`);
  const src = / src (\S+)/.exec(route.stdout)?.[1];
  if (!src)
    throw new JoinError(
      `cannot tell which address this node reaches ${target} from (ip route get ${target}: ${route.stderr.trim() || route.stdout.trim()})`,
    );
  return src;
}

async function runJoin(endpoint: string | undefined, options: JoinOptions): Promise<number> {
  const request = joinRequest(endpoint, options);
  if (process.getuid?.() !== 0)
    throw new UsageError('kubestrap join changes this machine (kubelet, containerd, kernel settings): run it as root');
  const phases = [...selectPhases(preparePhases, [], commaList(options.skipPhases), PHASE_GROUPS)];
  const site: Inventory | undefined = options.config
    ? (await loadInventory(options.config, { checkKeyFiles: false })).inventory
    : undefined;
  const log = RunLog.forCommand('join', options.logFile);
  log.redactor.add(formatToken(request.token));
  log.redactor.add(request.token.secret);
  log.redactor.add(options.certificateKey);
  const host = new Host('localhost', new LocalChannel(), { kind: 'root' }, log);
  // under --output json, stdout carries only the JSON lines
  const print = (text: string) => {
    if (options.output === 'json') console.error(text);
    else console.log(text);
  };
  try {
    const say = (line: string) => {
      print(line);
      log.write('discovery', line);
    };
    const discovered: Discovered = options.discoveryFile
      ? await discoverWithFile(readFileSync(options.discoveryFile, 'utf8'), options.discoveryFile, { timeoutMs: request.timeoutMs })
      : await discoverWithToken(request.endpoint!, request.token, request.pins, { timeoutMs: request.timeoutMs, log: say });
    say(
      `[discovery] ${new URL(discovered.server).host}: cluster-info verified${request.pins.length ? ', CA matches the pinned hash' : ''}`,
    );
    const settings = await readClusterSettings(discovered, request.token);
    if (options.controlPlane && settings.externalEtcdEndpoints) {
      // kubeadm-certs as kubestrap uploads it carries no external etcd's files
      throw new JoinError(
        `the cluster's etcd is external (${settings.externalEtcdEndpoints.join(', ')}): add this node to the inventory as a control plane and run kubestrap apply, which copies the etcd client files from the first control plane; nothing was changed here`,
      );
    }
    const shared = options.controlPlane
      ? await downloadCerts(
          ApiClient.direct(discovered.via, { ca: discovered.caCertPem, token: formatToken(request.token) }),
          options.certificateKey!,
        )
      : undefined;
    const facts = await probeFacts(host);
    const nodeName = options.nodeName ?? facts.hostname.toLowerCase();
    const role = options.controlPlane ? 'control-plane' : 'worker';
    const inventory = await joinInventory(
      settings,
      {
        name: nodeName,
        address: await sourceAddress(host, discovered.via),
        role,
        ...(options.criSocket ? { criSocket: options.criSocket } : {}),
      },
      site,
    );
    const spec = resolveHosts(inventory).find((h) => h.nodeName === nodeName)!;
    say(
      `[join] ${nodeName} (${spec.advertiseAddress}) joins ${settings.clusterName}, Kubernetes ${settings.kubernetesVersion}, as a ${role}`,
    );
    const joinPhase = shared
      ? joinControlPlaneNodePhase({ via: discovered.via, shared, approveOwnServingCertificate: settings.serverTlsBootstrap })
      : joinNodePhase({
          server: discovered.server,
          caCertPem: discovered.caCertPem,
          token: request.token,
          kubeletConfig: settings.kubeletConfig,
        });
    const all: Phase[] = [...phases, joinPhase];
    const result = await runWorkflow(inventory, [{ host: spec }], all, {
      mode: 'apply',
      concurrency: 1,
      renderer: options.output,
      log,
      gate: preflightGate(inventory, new Set(commaList(options.ignorePreflightErrors))),
      open: async () => ({ spec, host, facts }),
    });
    print(formatPlan(result, false));
    print(formatSummary(result));
    if (log.path) print(`log: ${log.path}`);
    if (options.output === 'json') console.log(JSON.stringify({ type: 'result', at: result.elapsedMs, ...reportJson(result) }));
    if (result.ok) print(`\nThis node has joined the cluster as a ${role}. See it from the workstation: kubectl get nodes ${nodeName}`);
    return result.ok ? 0 : 1;
  } finally {
    await host.close();
    await log.close();
  }
}

export function joinCommand(): Command {
  return new Command('join')
    .description(
      'join THIS machine to a cluster, like kubeadm join: token discovery with CA pinning, host preparation, kubelet TLS bootstrap (run as root on the node)',
    )
    .argument('[endpoint]', 'the API endpoint, host:port')
    .option('--token <token>', 'bootstrap token (discovery and TLS bootstrap)')
    .option(
      '--discovery-token-ca-cert-hash <sha256:hex>',
      'pin of the cluster CA public key (repeatable)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('--discovery-token-unsafe-skip-ca-verification', 'trust the discovered CA without a pin (not recommended)')
    .option('--discovery-file <kubeconfig>', 'discover the cluster from this kubeconfig (server + CA) instead of token discovery')
    .option('--tls-bootstrap-token <token>', 'with --discovery-file: the token for the TLS bootstrap (default: --token)')
    .option('--discovery-timeout <duration>', 'how long to keep trying to reach the cluster and find the token', '5m')
    .option('--node-name <name>', 'Kubernetes node name (default: this host name)')
    .option('--cri-socket <unix://path>', "CRI socket (default: the inventory's, else containerd's)")
    .option('--control-plane', 'join as another control plane (stacked etcd member, API server, controller-manager, scheduler)')
    .option('--certificate-key <hex>', 'with --control-plane: decrypts the certificates uploaded by `kubestrap certs upload`')
    .option('--config <inventory>', "the cluster's inventory file: site settings (package mirror, containerd, preparation) for this node")
    .option('--skip-phases <names>', `phases or groups to skip (${preparePhases.map((p) => p.name).join(', ')}, prepare)`)
    .option('--ignore-preflight-errors <names>', 'preflight checks to report as warnings')
    .option('--log-file <file>', 'where to write the run log')
    .addOption(
      new Option('--output <style>', 'progress display (json: one JSON object per event on stdout)')
        .choices(['auto', 'plain', 'silent', 'json'])
        .default('auto'),
    )
    .addHelpText(
      'after',
      '\nExample:\n  kubestrap join 10.0.0.10:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:…\n  (`kubestrap token create --print-join-command` prints this command; `certs upload --print-join-command` the control-plane one)',
    )
    .action(async (endpoint: string | undefined, options: JoinOptions) => {
      process.exitCode = await runJoin(endpoint, options);
    });
}
