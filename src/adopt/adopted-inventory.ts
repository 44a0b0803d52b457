/**
 * The inventory of an adopted cluster: what `readCluster` found, in kubestrap's terms, with a
 * comment on every value adopt had to guess or could not carry over. Pure: the CLI connects,
 * reads and writes; this only decides.
 */
import { Document, isMap, isSeq, type Node } from 'yaml';
import { parseVersion } from '../util/version.js';
import type { Pod } from '../../templates/objects.js';
import type { ComponentSettings } from '../../templates/control-plane.js';
import { sandboxImage } from '../../templates/versions.js';
import type { ClusterReading, HostReading, NodeReading, StaticPodComponent } from './read-cluster.js';

/** The login of --user/--port/--key; what is not given is left to ~/.ssh/config (then root, 22), in the inventory too. */
export interface AdoptLogin {
  readonly user?: string;
  readonly port?: number;
  readonly keyPath?: string;
}

/** A node adopt reached (or tried to): its reading, or why there is none. */
export interface AdoptedHost {
  readonly node: NodeReading;
  readonly address: string;
  /** Who chose the address: the operator (--control-plane, --node), or the Node itself (its InternalIP, which its kubelet sets). */
  readonly addressFrom?: 'operator' | 'node';
  readonly hostKey?: string;
  /** The host's own name, when adopt reached it (kubeadm's node name may differ: --node-name). */
  readonly hostname?: string;
  /** The API server's --advertise-address when it is not the address adopt reached the node at. */
  readonly advertiseAddress?: string;
  readonly reading?: HostReading;
  readonly problem?: string;
}

export interface AdoptInput {
  readonly cluster: ClusterReading;
  readonly login: AdoptLogin;
  /** The control plane adopt read the cluster through, first; then the other nodes it was asked to add. */
  readonly hosts: readonly AdoptedHost[];
  /** Nodes left out of the inventory (no --hosts-from-nodes, or no InternalIP). */
  readonly leftOut: readonly { readonly node: NodeReading; readonly why: string }[];
  /** Static-pod flags found in the manifests but not in kubeadm-config (hand edits), per component. */
  readonly manifestFlags?: Partial<Record<StaticPodComponent, Readonly<Record<string, string>>>>;
  /** SANs of the API server's certificate that kubestrap would not issue from kubeadm-config. */
  readonly extraSans?: readonly string[];
  readonly generatedAt: Date;
}

/** A comment above the field at `path` (keys of maps, indexes of lists). */
interface Note {
  readonly path: ReadonlyArray<string | number>;
  readonly text: string;
}

const KEY_ALGORITHMS = ['RSA-2048', 'RSA-3072', 'RSA-4096'];

/** Go's duration text (8760h0m0s) in the inventory's hours-and-minutes form (8760h). */
function hoursText(goDuration: string | undefined, fallback: string): string {
  const m = goDuration ? /^(?:(\d+)h)?(?:(\d+)m)?(?:0s)?$/.exec(goDuration) : undefined;
  if (!m || (!m[1] && !m[2])) return fallback;
  return `${m[1] ? `${m[1]}h` : ''}${m[2] && m[2] !== '0' ? `${m[2]}m` : ''}`;
}

function componentFields(settings: ComponentSettings, extraFlags: Readonly<Record<string, string>> | undefined): Record<string, unknown> {
  const extraArgs = { ...settings.extraArgs, ...(extraFlags ?? {}) };
  return {
    ...(Object.keys(extraArgs).length ? { extraArgs } : {}),
    ...(settings.extraVolumes.length ? { extraVolumes: settings.extraVolumes } : {}),
    ...(settings.extraEnvs.length ? { extraEnvs: settings.extraEnvs } : {}),
  };
}

function hostEntry(h: AdoptedHost): Record<string, unknown> {
  const n = h.node;
  // a control plane whose kubeadm NoSchedule taint was taken off runs workloads: it is a worker too
  const roles = n.controlPlane ? (n.untainted ? ['control-plane', 'worker'] : ['control-plane']) : ['worker'];
  return {
    name: n.name,
    address: h.address,
    ...(h.hostKey ? { hostKey: h.hostKey } : {}),
    roles,
    ...(h.advertiseAddress ? { advertiseAddress: h.advertiseAddress } : {}),
    ...(Object.keys(n.labels).length ? { labels: n.labels } : {}),
    ...(n.taints.length ? { taints: n.taints } : {}),
  };
}

export function adoptedInventory(input: AdoptInput): { object: Record<string, unknown>; notes: Note[] } {
  const { cluster, login } = input;
  const k = cluster.kubeadm;
  const minor = parseVersion(k.kubernetesVersion)!.minor;
  const notes: Note[] = [];
  const cp = input.hosts[0]!;
  const cpHost = cluster.controlPlaneHost;
  const containerd = cpHost.containerd;

  const versions = [...new Set(cluster.nodes.map((n) => n.kubeletVersion))];
  if (versions.length > 1 || (versions[0] && versions[0] !== k.kubernetesVersion)) {
    notes.push({
      path: ['cluster', 'kubernetesVersion'],
      text: `the control plane's version (kubeadm-config); the kubelets run ${versions.join(', ')}: kubestrap upgrade plan shows what aligning them takes`,
    });
  }
  if (!k.networking.podSubnet)
    notes.push({
      path: ['cluster', 'networking'],
      text: 'GUESS: kubeadm-config names no pod subnet (the controller-manager allocates no node CIDRs); kubestrap always sets one, so plan shows the controller-manager flags it adds',
    });

  const packages = cpHost.packages;
  if (!packages)
    notes.push({
      path: ['cluster', 'packages'],
      text: `GUESS: ${cp.node.name} has no kubernetes.list or kubernetes.repo kubestrap recognises; upstream pkgs.k8s.io assumed`,
    });

  const cgroupDriver =
    cluster.kubelet.cgroupDriver === 'systemd' || cluster.kubelet.cgroupDriver === 'cgroupfs'
      ? cluster.kubelet.cgroupDriver
      : containerd.cgroupDriver;
  if (!cluster.kubelet.cgroupDriver)
    notes.push({
      path: ['cluster', 'containerRuntime', 'cgroupDriver'],
      text: "GUESS: the kubelet-config names no cgroupDriver; containerd's (SystemdCgroup) taken",
    });
  const mismatched = input.hosts.filter(
    (h) =>
      h.reading && (h.reading.containerd.cgroupDriver !== cgroupDriver || h.reading.containerd.sandboxImage !== containerd.sandboxImage),
  );
  if (mismatched.length)
    notes.push({
      path: ['cluster', 'containerRuntime'],
      text: `containerd differs on ${mismatched.map((h) => `${h.node.name} (cgroup ${h.reading!.containerd.cgroupDriver}, sandbox ${h.reading!.containerd.sandboxImage ?? 'default'})`).join(', ')}: apply sets every node to the values below`,
    });
  const defaultSandbox = sandboxImage(k.imageRepository, minor);
  if (containerd.unusableSandboxImage)
    notes.push({
      path: ['cluster', 'containerRuntime'],
      text: `containerd on ${cp.node.name} names the sandbox image ${JSON.stringify(containerd.unusableSandboxImage.slice(0, 120))}, which is not an image reference (it would reach the kubelet's flags); apply sets ${defaultSandbox}`,
    });
  else if (!containerd.sandboxImage)
    notes.push({
      path: ['cluster', 'containerRuntime'],
      text: `containerd on ${cp.node.name} uses its built-in sandbox image; apply sets ${defaultSandbox}`,
    });

  const proxy = cluster.kubeProxy;
  const mode = proxy?.mode === 'ipvs' || proxy?.mode === 'nftables' ? proxy.mode : 'iptables';
  if (proxy && proxy.mode === '')
    notes.push({
      path: ['cluster', 'kubeProxy', 'mode'],
      text: "kube-proxy's configuration leaves mode empty, which kube-proxy runs as iptables; kubestrap writes it out",
    });

  const plugin = cluster.cni.plugin;
  notes.push({
    path: ['cluster', 'cni', 'plugin'],
    text: cluster.cni.daemonSets.length
      ? `running: ${plugin ?? 'a CNI kubestrap does not know'} (DaemonSet ${cluster.cni.daemonSets.join(', ')}): kubestrap leaves a pod network it did not install alone; set plugin (and for Calico, calicoManifest) to have kubestrap manage it`
      : 'GUESS: no CNI DaemonSet runs (the pod network is set up on the nodes themselves); kubestrap leaves it alone',
  });

  const keyAlgorithm = KEY_ALGORITHMS.includes(k.encryptionAlgorithm ?? cluster.pki.keyType)
    ? (k.encryptionAlgorithm ?? cluster.pki.keyType)
    : 'RSA-2048';
  if (keyAlgorithm !== cluster.pki.keyType)
    notes.push({
      path: ['cluster', 'certificates', 'keyAlgorithm'],
      text: `the API server's key is ${cluster.pki.keyType}, which kubestrap does not generate: certificates it renews get ${keyAlgorithm} keys`,
    });
  const extraSans = input.extraSans ?? [];
  if (extraSans.length)
    notes.push({
      path: ['cluster', 'certificates', 'certSANs'],
      text: `${extraSans.join(', ')}: in the API server's certificate but not in kubeadm-config (kept, so that a renewal keeps them)`,
    });
  if (!k.certificateValidityPeriod)
    notes.push({
      path: ['cluster', 'certificates', 'validity'],
      text: `kubeadm's fixed leaf validity before kubeadm.k8s.io/v1beta4 (this cluster's kubeadm-config is ${k.apiVersion})`,
    });

  const etcd = k.etcd.kind === 'local' ? k.etcd : undefined;
  const etcdTag = etcd?.imageTag ?? imageTag(cluster.manifests.get('etcd'));
  if (!etcd?.imageTag && etcdTag)
    notes.push({
      path: ['cluster', 'etcd', 'imageTag'],
      text: "from etcd's manifest (kubeadm-config names no tag: kubeadm's default for the release)",
    });
  for (const [component, flags] of Object.entries(input.manifestFlags ?? {}) as Array<[StaticPodComponent, Record<string, string>]>) {
    if (Object.keys(flags).length)
      notes.push({
        path: ['cluster', COMPONENT_FIELD[component], 'extraArgs'],
        text: `${Object.keys(flags)
          .map((f) => `--${f}`)
          .join(', ')}: in ${component}'s manifest but not in kubeadm-config (edited by hand on the node)`,
      });
  }

  if (input.hosts.length > 1)
    notes.push({
      path: ['hosts', 1],
      text: `the other nodes: their InternalIP, logged in to as ${cp.node.name} is (GUESS unless they share its login)`,
    });
  input.hosts.forEach((h, i) => {
    if (h.problem) notes.push({ path: ['hosts', i], text: `NOT REACHED by adopt: ${h.problem}; check it before apply` });
  });
  // the hostname phase would rename a host to its node name: not what a cluster kubeadm named otherwise wants
  const renamed = input.hosts.filter((h) => h.hostname !== undefined && h.hostname !== h.node.name);
  if (renamed.length)
    notes.push({
      path: ['preparation', 'setHostname'],
      text: `host names differ from node names (${renamed.map((h) => `${h.hostname} is Node ${h.node.name}`).join(', ')}): kubestrap leaves host names alone`,
    });
  const leftOut = input.leftOut.map((l) => `${l.node.name}${l.node.internalIp ? ` (${l.node.internalIp})` : ''}: ${l.why}`);
  if (leftOut.length)
    notes.push({
      path: ['hosts'],
      text: `Nodes of the cluster not in this inventory (kubestrap leaves them alone):\n${leftOut.map((l) => `  ${l}`).join('\n')}`,
    });

  const object = {
    apiVersion: 'kubestrap.dev/v1alpha1',
    kind: 'Cluster',
    hostDefaults: {
      ...(login.user ? { user: login.user } : {}),
      ...(login.port && login.port !== 22 ? { port: login.port } : {}),
      ...(login.keyPath ? { auth: { keyPath: login.keyPath } } : {}),
    },
    hosts: input.hosts.map(hostEntry),
    ...(renamed.length ? { preparation: { setHostname: false } } : {}),
    cluster: {
      name: k.clusterName,
      kubernetesVersion: k.kubernetesVersion,
      ...(k.controlPlaneEndpoint ? { controlPlaneEndpoint: k.controlPlaneEndpoint } : {}),
      networking: {
        ...(k.networking.podSubnet ? { podSubnet: k.networking.podSubnet } : {}),
        serviceSubnet: k.networking.serviceSubnet,
        dnsDomain: k.networking.dnsDomain,
      },
      imageRepository: k.imageRepository,
      packages: packages
        ? {
            source: packages.source,
            ...(packages.mirror ? { mirror: packages.mirror } : {}),
            mirrorLayout: packages.mirrorLayout,
            ...(packages.unsigned ? { unsigned: true } : {}),
          }
        : { source: 'upstream' },
      containerRuntime: {
        cgroupDriver,
        ...(containerd.sandboxImage && containerd.sandboxImage !== defaultSandbox ? { sandboxImage: containerd.sandboxImage } : {}),
        ...(containerd.restrictOOMScoreAdj ? { restrictOOMScoreAdj: true } : {}),
        ...(Object.keys(containerd.registryMirrors).length ? { registryMirrors: containerd.registryMirrors } : {}),
      },
      kubeProxy: {
        mode,
        ...(proxy?.ipvsScheduler && mode === 'ipvs' ? { ipvsScheduler: proxy.ipvsScheduler } : {}),
        ...(proxy?.conntrackMaxPerCore !== undefined ? { conntrackMaxPerCore: proxy.conntrackMaxPerCore } : {}),
      },
      cni: { plugin: 'none' },
      addons: cluster.addons,
      certificates: {
        validity: hoursText(k.certificateValidityPeriod, '8760h'),
        caValidity: hoursText(k.caCertificateValidityPeriod, `${cluster.pki.caValidityHours}h`),
        keyAlgorithm,
        ...(k.certSANs.length || extraSans.length ? { certSANs: [...k.certSANs, ...extraSans] } : {}),
      },
      apiServer: componentFields(k.apiServer, input.manifestFlags?.['kube-apiserver']),
      controllerManager: componentFields(k.controllerManager, input.manifestFlags?.['kube-controller-manager']),
      scheduler: componentFields(k.scheduler, input.manifestFlags?.['kube-scheduler']),
      etcd:
        k.etcd.kind === 'external'
          ? { external: { endpoints: k.etcd.endpoints, caFile: k.etcd.caFile, certFile: k.etcd.certFile, keyFile: k.etcd.keyFile } }
          : { ...(etcd ? componentFields(etcd, input.manifestFlags?.etcd) : {}), ...(etcdTag ? { imageTag: etcdTag } : {}) },
    },
  };
  return { object, notes };
}

const COMPONENT_FIELD: Record<StaticPodComponent, string> = {
  etcd: 'etcd',
  'kube-apiserver': 'apiServer',
  'kube-controller-manager': 'controllerManager',
  'kube-scheduler': 'scheduler',
};

function imageTag(pod: Pod | undefined): string | undefined {
  const image = pod?.spec.containers[0]?.image;
  const tag = image?.slice(image.lastIndexOf(':') + 1);
  return tag && !tag.includes('/') ? tag : undefined;
}

/** `--name=value` flags of a static pod's command. */
export function podFlags(pod: Pod): Map<string, string> {
  const command = [...(pod.spec.containers[0]?.command ?? []), ...(pod.spec.containers[0]?.args ?? [])];
  return new Map(
    command.flatMap((arg) => {
      const m = /^--([^=]+)(?:=(.*))?$/.exec(arg);
      return m ? [[m[1]!, m[2] ?? 'true'] as const] : [];
    }),
  );
}

/** Flags the live manifest has, or has with another value, that kubestrap's rendering lacks: kubestrap keeps them as extraArgs. */
export function handEditedFlags(live: Pod, rendered: Pod): Record<string, string> {
  const ours = podFlags(rendered);
  return Object.fromEntries([...podFlags(live)].filter(([flag, value]) => ours.get(flag) !== value));
}

/** The inventory's text: a header, the fields, each note above its field. */
export function renderAdoptedInventory(input: AdoptInput, source: string): string {
  const { object, notes } = adoptedInventory(input);
  const doc = new Document(object);
  for (const note of notes) commentAbove(doc, note);
  doc.commentBefore = [
    ` kubestrap inventory adopted from ${source} on ${input.generatedAt.toISOString()}.`,
    ' It describes the cluster as it was found; comments mark what adopt had to guess.',
    ' Check them, then: kubestrap plan -i <this file>',
  ].join('\n');
  return doc.toString({ indentSeq: false });
}

function commentAbove(doc: Document, note: Note): void {
  const parent = doc.getIn(note.path.slice(0, -1), true) as Node | undefined;
  const last = note.path.at(-1);
  const text = note.text
    .split('\n')
    .map((l) => ` ${l}`)
    .join('\n');
  if (isSeq(parent) && typeof last === 'number') {
    const item = parent.items[last] as Node | undefined;
    if (item) item.commentBefore = item.commentBefore ? `${item.commentBefore}\n${text}` : text;
    return;
  }
  const container = note.path.length === 1 ? doc.contents : parent;
  if (!isMap(container)) return;
  const pair = container.items.find((p) => (p.key as { value?: unknown } | null)?.value === last);
  const key = pair?.key as Node | undefined;
  if (key) key.commentBefore = key.commentBefore ? `${key.commentBefore}\n${text}` : text;
}
