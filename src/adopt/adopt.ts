/**
 * `kubestrap adopt`, the work: connect to the control plane named on the command line (host key
 * checked like every connection), read the cluster through it, reach the other nodes when asked,
 * and return the inventory text, validated by the same reader `plan` and `apply` use. Nothing is
 * written on any host; the CLI writes the one local file.
 */
import { stringify } from 'yaml';
import { parseInventory } from '../inventory/load.js';
import { resolveHosts } from '../inventory/resolve.js';
import { controlPlaneInput, readNodeState } from '../kube/node-files.js';
import { fingerprint, type HostKeyPolicy } from '../transport/host-keys.js';
import type { HostKeyVerifier } from '../transport/ssh.js';
import { connectTarget, type ConnectOptions } from '../kit/connect.js';
import type { HostTarget } from '../kit/phase.js';
import { resolveTargets } from '../transport/credentials.js';
import type { SshConfigFile } from '../transport/ssh-config.js';
import type { RunLog } from '../log/run-log.js';
import { mapLimit } from '../util/concurrency.js';
import { controlPlanePods } from '../../templates/control-plane.js';
import { apiServerSans } from '../pki/catalogue.js';
import { clusterPki, nodePki } from '../pki/from-inventory.js';
import {
  handEditedFlags,
  podFlags,
  renderAdoptedInventory,
  type AdoptedHost,
  type AdoptInput,
  type AdoptLogin,
} from './adopted-inventory.js';
import {
  AdoptRefusal,
  readCluster,
  readHost,
  STATIC_POD_COMPONENTS,
  type ClusterReading,
  type NodeReading,
  type StaticPodComponent,
} from './read-cluster.js';
import { asError } from '../util/errors.js';

/** Nodes connected to at once, as apply's default fan-out. */
const CONNECT_FAN_OUT = 20;

export interface AdoptOptions {
  readonly controlPlane: string;
  readonly login: AdoptLogin;
  readonly hostsFromNodes: boolean;
  /** Node name → the address the operator gives for it (--node): reached there, its new host key acceptable with --accept-new-host-keys. */
  readonly nodeAddresses?: ReadonlyMap<string, string>;
  readonly hostKeys: HostKeyPolicy;
  readonly connectTimeoutMs: number;
  readonly log: RunLog;
  readonly passphrasePrompt?: (keyPath: string) => Promise<string>;
  /** The operator's OpenSSH configuration, as for every command that connects. */
  readonly sshConfig?: SshConfigFile | undefined;
}

export interface AdoptResult {
  readonly text: string;
  readonly cluster: ClusterReading;
  readonly hosts: readonly AdoptedHost[];
  readonly guesses: number;
}

/** An inventory of just these hosts with the login given, to reach them through the usual credentials code (roles only to make it valid). */
async function loginInventory(login: AdoptLogin, hosts: ReadonlyArray<{ name: string; address: string }>) {
  const text = stringify({
    apiVersion: 'kubestrap.dev/v1alpha1',
    kind: 'Cluster',
    hostDefaults: {
      ...(login.user ? { user: login.user } : {}),
      ...(login.port ? { port: login.port } : {}),
      ...(login.keyPath ? { auth: { keyPath: login.keyPath } } : {}),
    },
    hosts: hosts.map((h, i) => ({ name: h.name, address: h.address, roles: [i === 0 ? 'control-plane' : 'worker'] })),
    cluster: { kubernetesVersion: 'v1.30.0' },
  });
  return (await parseInventory(text, 'adopt --control-plane/--user/--key')).inventory;
}

/**
 * The host keys every connection verified, by host name: adopt pins them in the inventory. A
 * new key is acceptable (--accept-new-host-keys) only at an address the operator gave: a Node's
 * InternalIP is chosen by its own kubelet, and a compromised node could send adopt anywhere.
 */
function recordingVerifier(policy: HostKeyPolicy, seen: Map<string, string>, operatorGiven: (name: string) => boolean): HostKeyVerifier {
  return {
    async verify(target, keyBlob) {
      const verdict = await (operatorGiven(target.name) ? policy.verify(target, keyBlob) : policy.verify(target, keyBlob, false));
      if (verdict.ok) seen.set(target.name, fingerprint(keyBlob));
      return verdict;
    },
  };
}

async function connectAll(
  options: AdoptOptions,
  hosts: ReadonlyArray<{ name: string; address: string }>,
  connect: ConnectOptions,
): Promise<Array<HostTarget | Error>> {
  if (!hosts.length) return [];
  const inventory = await loginInventory(options.login, hosts);
  const targets = await resolveTargets(resolveHosts(inventory), {
    env: process.env,
    sshConfig: options.sshConfig,
    knownHostsChosen: true,
    ...(options.passphrasePrompt ? { prompt: options.passphrasePrompt } : {}),
  });
  return mapLimit(targets, CONNECT_FAN_OUT, (t) =>
    connectTarget(t, connect).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))),
  );
}

/** The control plane's Node: by the address adopt reached it at, else by its host name. */
function controlPlaneNode(cluster: ClusterReading, address: string, hostname: string): NodeReading {
  const node = cluster.nodes.find((n) => n.internalIp === address) ?? cluster.nodes.find((n) => n.name === hostname);
  if (!node)
    throw new AdoptRefusal(
      `${address} (host name ${hostname}) is not one of the cluster's Nodes (${cluster.nodes.map((n) => n.name).join(', ')}): point --control-plane at the control plane's node address`,
    );
  return node;
}

/**
 * What kubestrap would render from the draft inventory, against what the node has: flags in the
 * live manifests that kubestrap's rendering lacks (hand edits, kept as extraArgs), and SANs of
 * the API server's certificate it would not issue (kept as certSANs, so a renewal keeps them).
 */
async function handEdits(
  text: string,
  cluster: ClusterReading,
  target: HostTarget,
): Promise<Pick<AdoptInput, 'manifestFlags' | 'extraSans'>> {
  const inventory = (await parseInventory(text, 'adopted inventory', { checkKeyFiles: false })).inventory;
  const host = resolveHosts(inventory)[0]!;
  const { caDirs } = await readNodeState(target);
  const pods = controlPlanePods(controlPlaneInput(inventory, host, caDirs));
  const manifestFlags: Partial<Record<StaticPodComponent, Record<string, string>>> = {};
  for (const component of STATIC_POD_COMPONENTS) {
    const live = cluster.manifests.get(component);
    const ours = pods[component];
    if (live && ours) manifestFlags[component] = handEditedFlags(live, ours);
  }
  const issued = new Set(apiServerSans(clusterPki(inventory), nodePki(host)));
  return { manifestFlags, extraSans: cluster.pki.apiServerSans.filter((san) => !issued.has(san)) };
}

/** Where adopt reaches a node: the operator's address (--node), else the Node's InternalIP. */
function nodeAddress(options: AdoptOptions, node: NodeReading): { address: string; from: 'operator' | 'node' } | undefined {
  const given = options.nodeAddresses?.get(node.name);
  if (given) return { address: given, from: 'operator' };
  return node.internalIp ? { address: node.internalIp, from: 'node' } : undefined;
}

export async function adoptCluster(options: AdoptOptions): Promise<AdoptResult> {
  const seen = new Map<string, string>();
  const operatorGiven = (name: string) => name === 'control-plane' || !!options.nodeAddresses?.has(name);
  const connect: ConnectOptions = {
    hostKeys: recordingVerifier(options.hostKeys, seen, operatorGiven),
    connectTimeoutMs: options.connectTimeoutMs,
    log: options.log,
  };
  const [first] = await connectAll(options, [{ name: 'control-plane', address: options.controlPlane }], connect);
  if (first instanceof Error) throw new AdoptRefusal(`cannot reach the control plane: ${first.message}`);
  const opened: HostTarget[] = [first!];
  try {
    const cluster = await readCluster(first!);
    const cpNode = controlPlaneNode(cluster, options.controlPlane, first!.facts.hostname);
    const advertise = cluster.manifests.get('kube-apiserver')
      ? podFlags(cluster.manifests.get('kube-apiserver')!).get('advertise-address')
      : undefined;
    const hosts: AdoptedHost[] = [
      {
        node: cpNode,
        address: options.controlPlane,
        addressFrom: 'operator',
        hostKey: seen.get('control-plane')!,
        hostname: first!.facts.hostname,
        reading: cluster.controlPlaneHost,
        ...(advertise && advertise !== options.controlPlane ? { advertiseAddress: advertise } : {}),
      },
    ];
    const rest = cluster.nodes.filter((n) => n !== cpNode);
    const unknown = [...(options.nodeAddresses?.keys() ?? [])].filter((name) => !rest.some((n) => n.name === name));
    if (unknown.length)
      throw new AdoptRefusal(
        `--node names ${unknown.join(', ')}, which ${unknown.length === 1 ? 'is' : 'are'} not among the cluster's other Nodes (${rest.map((n) => n.name).join(', ') || 'none'})`,
      );
    const wanted = rest.filter((n) => options.hostsFromNodes || options.nodeAddresses?.has(n.name));
    const addresses = new Map(wanted.map((n) => [n, nodeAddress(options, n)]));
    const reachable = wanted.filter((n) => addresses.get(n));
    const leftOut = rest
      .filter((n) => !reachable.includes(n))
      .map((node) => ({
        node,
        why: wanted.includes(node) ? 'the Node reports no InternalIP' : 'not asked for (--hosts-from-nodes adds every Node, --node one)',
      }));
    const connected = await connectAll(
      options,
      reachable.map((n) => ({ name: n.name, address: addresses.get(n)!.address })),
      connect,
    );
    opened.push(...connected.filter((c): c is HostTarget => !(c instanceof Error)));
    const others: AdoptedHost[] = await mapLimit(reachable, CONNECT_FAN_OUT, async (node, i) => {
      const { address, from } = addresses.get(node)!;
      const result = connected[i]!;
      if (result instanceof Error) return { node, address, addressFrom: from, problem: result.message.split('\n')[0]! };
      const reading = await readHost(result).catch(asError);
      // a control plane advertising another address than its InternalIP (kubeadm's ClusterStatus, before 1.22)
      const advertise = cluster.kubeadm.apiEndpoints?.[node.name];
      const base = {
        node,
        address,
        addressFrom: from,
        hostKey: seen.get(node.name)!,
        hostname: result.facts.hostname,
        ...(advertise && advertise !== address ? { advertiseAddress: advertise } : {}),
      };
      return reading instanceof Error ? { ...base, problem: reading.message } : { ...base, reading };
    });
    hosts.push(...others);
    const input: AdoptInput = { cluster, login: options.login, hosts, leftOut, generatedAt: new Date() };
    const draft = renderAdoptedInventory(input, options.controlPlane);
    const final = { ...input, ...(await handEdits(draft, cluster, first!)) };
    const text = renderAdoptedInventory(final, options.controlPlane);
    // what is written must be what plan and apply accept
    await parseInventory(text, 'adopted inventory', { checkKeyFiles: false });
    return { text, cluster, hosts, guesses: (text.match(/GUESS/g) ?? []).length };
  } finally {
    await Promise.all(opened.map((t) => t.host.close()));
  }
}
