/**
 * The end-to-end lab: real Kubernetes 1.20.2 nodes on this machine. Each node is a systemd lab
 * host (systemd-nspawn, systemd as PID 1) on the lab bridge, reachable over real SSH, with
 * Debian's containerd, runc and CNI plugins, the lab's images already in containerd under
 * registry.local (unless the lab plays an air-gapped site: `images: 'none'`), and the lab's package mirror (kubelet,
 * kubectl, kubeadm 1.20.2 built from Debian's source) served on the bridge.
 *
 * What stands in for the world around a real node:
 * - the "network fabric": each node's pod subnet is routed to it from the other nodes (what a
 *   cloud route table or a CNI's host-gw mode would do);
 * - `installLabCni`: the bridge + host-local + portmap plugins from Debian, configured per node
 *   (CNI images such as Flannel's cannot be built here);
 * - machine-wide kernel settings that a node's kubelet insists on (vm.overcommit_memory,
 *   kernel.panic, kernel.panic_on_oops) are set before the nodes start, because the nodes'
 *   /proc/sys is read-only, and restored afterwards; fs.inotify.max_user_instances is raised
 *   for the same time (every node's systemd, containerd and kubelet take instances from one
 *   machine-wide pool).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLab, type Lab, type LabHost } from '../lab/lab.js';
import { serveRepo, type ServedRepo } from '../lab/package-repo.js';
import { e2eScript, ensureE2eRepo, E2E_KUBE_VERSION } from './package-repo.js';

export const IMAGE_REPOSITORY = 'registry.local';
/** Where the nodes see this checkout (built), read-only: `node ${KUBESTRAP_INSIDE}/bin/kubestrap.js`. */
export const KUBESTRAP_INSIDE = '/opt/kubestrap';
export const POD_SUBNET = '10.244.0.0/16';
export const SERVICE_SUBNET = '10.96.0.0/12';
const IMAGES_INSIDE = '/var/cache/kubestrap-lab-images';
const SAVED_SYSCTLS = '/run/kubestrap-lab/e2e-machine-sysctls.json';
/** Values the 1.20 kubelet sets at start (and fails on when it cannot). */
const KUBELET_MACHINE_SYSCTLS: Readonly<Record<string, string>> = { 'vm.overcommit_memory': '1', 'kernel.panic': '10', 'kernel.panic_on_oops': '1' };
const INOTIFY_INSTANCES = 'fs.inotify.max_user_instances';
const INOTIFY_NEEDED = 1024;
/** Node paths kept on this machine's disk: containerd's overlay snapshots cannot live on an overlay. */
const NODE_DISK_PATHS = ['/var/lib/containerd', '/var/lib/kubelet', '/var/lib/etcd', '/var/log/pods', '/var/log/containers'];

export interface ClusterLab {
  readonly lab: Lab;
  /** The first control plane. */
  readonly controlPlane: LabHost;
  readonly controlPlanes: readonly LabHost[];
  readonly workers: readonly LabHost[];
  readonly nodes: readonly LabHost[];
  /** The lab package mirror's Kubernetes tree (pkgs.k8s.io layout, unsigned). */
  readonly packageMirror: string;
  readonly kubernetesVersion: string;
  /** Tag of the lab's etcd image (Debian's etcd, tagged with the version it is). */
  readonly etcdImageTag: string;
  podSubnetOf(node: LabHost): string;
  stop(): Promise<void>;
}

function sysctl(name: string): string {
  return readFileSync(join('/proc/sys', name.replaceAll('.', '/')), 'utf8').trim();
}

function setSysctl(name: string, value: string): void {
  writeFileSync(join('/proc/sys', name.replaceAll('.', '/')), value);
}

/** Saves the machine-wide values the e2e lab changes (once: a crashed run's file keeps the originals). */
function claimMachineSysctls(): void {
  mkdirSync(join(SAVED_SYSCTLS, '..'), { recursive: true });
  if (!existsSync(SAVED_SYSCTLS)) {
    const names = [...Object.keys(KUBELET_MACHINE_SYSCTLS), INOTIFY_INSTANCES];
    writeFileSync(SAVED_SYSCTLS, JSON.stringify(Object.fromEntries(names.map((n) => [n, sysctl(n)]))));
  }
  for (const [name, value] of Object.entries(KUBELET_MACHINE_SYSCTLS)) setSysctl(name, value);
  if (Number(sysctl(INOTIFY_INSTANCES)) < INOTIFY_NEEDED) setSysctl(INOTIFY_INSTANCES, String(INOTIFY_NEEDED));
}

/** Puts back the machine-wide values saved by claimMachineSysctls (no-op when nothing is saved). */
export function restoreMachineSysctls(): void {
  if (!existsSync(SAVED_SYSCTLS)) return;
  const saved = JSON.parse(readFileSync(SAVED_SYSCTLS, 'utf8')) as Record<string, string>;
  for (const [name, value] of Object.entries(saved)) setSysctl(name, value);
  rmSync(SAVED_SYSCTLS);
}

function script(name: string): string {
  return execFileSync('sh', [e2eScript(name)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop()!;
}

/** Builds (or finds cached) everything the nodes need: binaries, images, root filesystem, packages. */
export function ensureE2eArtifacts(): { images: string; rootfs: string; repo: string } {
  return { images: script('build-images.sh'), rootfs: script('node-rootfs.sh'), repo: ensureE2eRepo() };
}

export interface ClusterLabOptions {
  readonly workers?: number;
  /** cp-1 … cp-N (default 1). */
  readonly controlPlanes?: number;
  /** Configure the lab's pod network on every node at start (the demo; tests do it themselves). */
  readonly withCni?: boolean;
  /**
   * `none`: the nodes start without any Kubernetes image, as on an air-gapped site, and get them
   * from a bundle (airgap.test). By default the lab imports its images itself, so the other
   * suites do not each pay for a bundle upload that airgap.test already proves.
   */
  readonly images?: 'preloaded' | 'none';
}

export async function startClusterLab(options: ClusterLabOptions = {}): Promise<ClusterLab> {
  const { images, rootfs, repo: repoRoot } = ensureE2eArtifacts();
  const workers = options.workers ?? 2;
  const controlPlanes = options.controlPlanes ?? 1;
  claimMachineSysctls();
  let lab: Lab | undefined;
  let repo: ServedRepo | undefined;
  const stop = async () => {
    await repo?.close();
    await lab?.stop();
    restoreMachineSysctls();
  };
  try {
    lab = await startLab({
      hosts: workers + controlPlanes,
      names: [...Array.from({ length: controlPlanes }, (_, i) => `cp-${i + 1}`), ...Array.from({ length: workers }, (_, i) => `worker-${i + 1}`)],
      kind: 'systemd',
      rootfs,
      diskPaths: NODE_DISK_PATHS,
      defaultRoute: true,
      // kubestrap itself on every node, for `kubestrap join` run there as an operator would
      readOnlyBinds: { [IMAGES_INSIDE]: images, [KUBESTRAP_INSIDE]: process.cwd(), '/usr/local/bin/node': process.execPath },
    });
    const started = lab;
    repo = await serveRepo(started, repoRoot);
    const podSubnetOf = (node: LabHost) => `10.244.${started.hosts.indexOf(node)}.0/24`;
    for (const node of started.hosts) {
      for (const other of started.hosts.filter((h) => h !== node)) {
        execFileSync('ip', ['-n', node.netns, 'route', 'add', podSubnetOf(other), 'via', other.ip]);
      }
    }
    // Control planes need every image; workers what runs on every node (and the node-local API balancer).
    const workerImages = ['pause', 'kube-proxy', 'busybox', 'haproxy'];
    await Promise.all(
      started.hosts.map(async (node, i) => {
        await ensureNodeSetup(started, node);
        await started.run(node, waitForCri);
        if (options.images === 'none') return;
        const wanted = i < controlPlanes ? ['pause', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy', 'etcd', 'busybox'] : workerImages;
        await started.run(node, wanted.map((name) => `ctr -n k8s.io images import ${IMAGES_INSIDE}/${name}.tar >/dev/null`).join(' && '));
      }),
    );
    const cluster: ClusterLab = {
      lab: started,
      controlPlane: started.hosts[0]!,
      controlPlanes: started.hosts.slice(0, controlPlanes),
      workers: started.hosts.slice(controlPlanes),
      nodes: started.hosts,
      packageMirror: `${repo.url}/kubernetes`,
      kubernetesVersion: `v${E2E_KUBE_VERSION}`,
      etcdImageTag: readFileSync(join(images, 'etcd-version'), 'utf8').trim(),
      podSubnetOf,
      stop,
    };
    if (options.withCni) await installLabCni(cluster);
    return cluster;
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The node's boot unit (writable cgroups and /proc/sys/net, shared root) failed once in a few
 * dozen starts, leaving a node whose kubelet never registered: say so, with the unit's log, and
 * run it again.
 */
async function ensureNodeSetup(lab: Lab, node: LabHost): Promise<void> {
  const state = (await lab.run(node, 'systemctl is-active kubestrap-lab-node.service; true')).trim();
  if (state === 'active') return;
  const journal = await lab.run(node, 'journalctl -u kubestrap-lab-node.service --no-pager -n 20 -o cat; true');
  console.warn(`e2e lab: ${node.name}'s setup unit is ${state}; running it again. Its log:\n${journal}`);
  await lab.run(node, 'systemctl restart kubestrap-lab-node.service');
}

// containerd starts without its CRI plugin when inotify instances run out: wait for it to be ok
const waitForCri = `for i in $(seq 1 150); do ctr plugins ls 2>/dev/null | grep -q 'cri .* ok' && exit 0; sleep 0.2; done; echo 'containerd CRI plugin not ok:' >&2; ctr plugins ls | grep cri >&2; exit 1`;

/** The lab network's CNI configuration for one node (stands in for a CNI add-on's DaemonSet). */
function labCniConfig(podSubnet: string): string {
  return `${JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: 'kubestrap-lab',
      plugins: [
        { type: 'bridge', bridge: 'cni0', isGateway: true, ipMasq: true, hairpinMode: true, ipam: { type: 'host-local', ranges: [[{ subnet: podSubnet }]], routes: [{ dst: '0.0.0.0/0' }] } },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}

const LAB_CNI_PATH = '/etc/cni/net.d/10-kubestrap-lab.conflist';

/** Configures the lab's pod network on every node (what applying a CNI add-on would do). */
export async function installLabCni(cluster: ClusterLab): Promise<void> {
  await Promise.all(
    cluster.nodes.map((node) => cluster.lab.run(node, `mkdir -p /etc/cni/net.d && cat > ${LAB_CNI_PATH} <<'CNI'\n${labCniConfig(cluster.podSubnetOf(node))}CNI`)),
  );
}
