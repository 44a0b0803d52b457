/**
 * The end-to-end lab: real Kubernetes 1.20.2 nodes on this machine. Each node is a systemd lab
 * host (systemd-nspawn, systemd as PID 1) on the lab bridge, reachable over real SSH, with
 * Debian's containerd, runc and CNI plugins, the lab's images already in containerd under
 * registry.local (unless the lab plays an air-gapped site: `images: 'none'`), and the lab's
 * package mirror (kubelet, kubectl, kubeadm 1.20.2 built from Debian's source, crictl) served on
 * the bridge. The images include the add-ons kubestrap deploys (Flannel, CoreDNS,
 * metrics-server), made from real binaries (lab-addons.ts): a kubestrap cluster in the lab runs
 * its own pod network, DNS and metrics, nothing lab-made.
 *
 * What stands in for the world around a real node:
 * - a name server in each node's resolv.conf (the lab's gateway address, where nothing answers):
 *   CoreDNS forwards to it, as at a site whose DNS server is out of reach;
 * - `installLabCni`, for clusters the reference kubeadm makes (it installs no CNI): the bridge +
 *   host-local + portmap plugins from Debian, configured per node, and each node's pod subnet
 *   routed to it from the other nodes (what a cloud route table would do);
 * - machine-wide kernel settings that a node's kubelet insists on (vm.overcommit_memory,
 *   kernel.panic, kernel.panic_on_oops) are set before the nodes start, because the nodes'
 *   /proc/sys is read-only, and restored when the last lab ends (machine-sysctls.ts);
 *   fs.inotify.max_user_instances is raised for the same time.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { cachedBuild, startLab, WORK_DIR, type Lab, type LabHost } from '../lab/lab.js';
import { serveRepo, type ServedRepo } from '../lab/package-repo.js';
import { metricsServerImage } from '../../src/kube/metrics-server.js';
import { FLANNEL_CNI_PLUGIN_VERSION, FLANNEL_VERSION } from '../../templates/flannel.js';
import { coreDnsImage } from '../../templates/versions.js';
import { labAddonsDir } from './lab-addons.js';
import { claimMachineSysctls, releaseMachineSysctls } from './machine-sysctls.js';
import { ensureE2eRepo, E2E_KUBE_VERSION } from './package-repo.js';
import { e2eScript } from './scripts.js';

export const IMAGE_REPOSITORY = 'registry.local';
/** Where the nodes see this checkout (built), read-only: `node ${KUBESTRAP_INSIDE}/bin/kubestrap.js`. */
export const KUBESTRAP_INSIDE = '/opt/kubestrap';
export const POD_SUBNET = '10.244.0.0/16';
export const SERVICE_SUBNET = '10.96.0.0/12';
const IMAGES_INSIDE = '/var/cache/kubestrap-lab-images';
const ADDON_IMAGES_INSIDE = '/var/cache/kubestrap-lab-addon-images';
/** Kubernetes' e2e test image (netexec, DNS tools), for the tests' own pods. */
export const AGNHOST_IMAGE = `${IMAGE_REPOSITORY}/agnhost:2.25`;
/** The add-on images as kubestrap renders them for the lab's release and repositories, and the lab's images of them. */
const ADDON_IMAGES: Readonly<Record<string, string>> = {
  coredns: coreDnsImage(IMAGE_REPOSITORY, 20),
  'metrics-server': metricsServerImage(IMAGE_REPOSITORY),
  flannel: `${IMAGE_REPOSITORY}/flannel:${FLANNEL_VERSION}`,
  'flannel-cni-plugin': `${IMAGE_REPOSITORY}/flannel-cni-plugin:${FLANNEL_CNI_PLUGIN_VERSION}`,
  agnhost: AGNHOST_IMAGE,
};
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

const script = (name: string, ...args: string[]): string => cachedBuild(e2eScript(name), ...args);

/** Builds (or finds cached) everything the nodes need: binaries, images (Kubernetes' and the add-ons'), root filesystem, packages. */
export function ensureE2eArtifacts(): { images: string; addonImages: string; rootfs: string; repo: string } {
  const tags = Object.entries(ADDON_IMAGES).map(([name, image]) => `${name}:${image.slice(image.lastIndexOf(':') + 1)}`);
  return {
    images: script('build-images.sh'),
    addonImages: script('build-addon-images.sh', labAddonsDir(), ...tags),
    rootfs: script('node-rootfs.sh'),
    repo: ensureE2eRepo(),
  };
}

export interface ClusterLabOptions {
  readonly workers?: number;
  /** cp-1 … cp-N (default 1). */
  readonly controlPlanes?: number;
  /**
   * `none`: the nodes start without any Kubernetes image, as on an air-gapped site, and get them
   * from a bundle (airgap.test). By default the lab imports its images itself, so the other
   * suites do not each pay for a bundle upload that airgap.test already proves.
   */
  readonly images?: 'preloaded' | 'none';
}

/** The kubelet's default imageGCHighThresholdPercent: above it, the kubelet deletes images no container uses. */
const IMAGE_GC_PERCENT = 85;

/**
 * Warns when the disk under the lab nodes is near the point where their kubelets delete unused
 * images, counted as the kubelet counts it (capacity less what is available): an air-gapped lab
 * cannot pull them again, and pods then fail in ways that point elsewhere (seen in CI).
 */
function warnOfImageGc(): void {
  mkdirSync(WORK_DIR, { recursive: true });
  const fs = statfsSync(WORK_DIR);
  const used = Math.round(100 * (1 - fs.bavail / fs.blocks));
  if (used >= IMAGE_GC_PERCENT - 10)
    console.warn(
      `the disk under ${WORK_DIR} is ${used}% used as the kubelet counts it: at ${IMAGE_GC_PERCENT}% the lab nodes' kubelets delete images they cannot pull again; free space (left-over /tmp/kubestrap-* directories?)`,
    );
}

export async function startClusterLab(options: ClusterLabOptions = {}): Promise<ClusterLab> {
  const { images, addonImages, rootfs, repo: repoRoot } = ensureE2eArtifacts();
  warnOfImageGc();
  const workers = options.workers ?? 2;
  const controlPlanes = options.controlPlanes ?? 1;
  const claim = claimMachineSysctls();
  let lab: Lab | undefined;
  let repo: ServedRepo | undefined;
  const stop = async () => {
    await repo?.close();
    await lab?.stop();
    releaseMachineSysctls(claim);
  };
  try {
    lab = await startLab({
      hosts: workers + controlPlanes,
      names: [
        ...Array.from({ length: controlPlanes }, (_, i) => `cp-${i + 1}`),
        ...Array.from({ length: workers }, (_, i) => `worker-${i + 1}`),
      ],
      kind: 'systemd',
      rootfs,
      diskPaths: NODE_DISK_PATHS,
      defaultRoute: true,
      // kubestrap itself on every node, for `kubestrap join` run there as an operator would
      readOnlyBinds: {
        [IMAGES_INSIDE]: images,
        [ADDON_IMAGES_INSIDE]: addonImages,
        [KUBESTRAP_INSIDE]: process.cwd(),
        '/usr/local/bin/node': process.execPath,
      },
    });
    const started = lab;
    repo = await serveRepo(started, repoRoot);
    const podSubnetOf = (node: LabHost) => `10.244.${started.hosts.indexOf(node)}.0/24`;
    // Control planes need every image; workers what runs on every node (and the node-local API
    // balancer); every node the add-ons', which run where the scheduler puts them.
    const workerImages = ['pause', 'kube-proxy', 'busybox', 'haproxy'];
    const imports = (dir: string, names: readonly string[]) =>
      names.map((name) => `ctr -n k8s.io images import ${dir}/${name}.tar >/dev/null`);
    await Promise.all(
      started.hosts.map(async (node, i) => {
        await ensureNodeSetup(started, node);
        await started.run(node, `echo 'nameserver ${started.gateway}' > /etc/resolv.conf\n${waitForCri}`);
        if (options.images === 'none') return;
        const wanted =
          i < controlPlanes
            ? ['pause', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy', 'etcd', 'busybox']
            : workerImages;
        await started.run(
          node,
          [...imports(IMAGES_INSIDE, wanted), ...imports(ADDON_IMAGES_INSIDE, Object.keys(ADDON_IMAGES))].join(' && '),
        );
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
        {
          type: 'bridge',
          bridge: 'cni0',
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: { type: 'host-local', ranges: [[{ subnet: podSubnet }]], routes: [{ dst: '0.0.0.0/0' }] },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}

const LAB_CNI_PATH = '/etc/cni/net.d/10-kubestrap-lab.conflist';

/**
 * Configures the lab's pod network on every node (what applying a CNI add-on would do), for
 * clusters the reference kubeadm makes: the bridge configuration and each node's pod subnet
 * routed to it from the others. Again after a reset takes the configuration away.
 */
export async function installLabCni(cluster: ClusterLab): Promise<void> {
  await Promise.all(
    cluster.nodes.map(async (node) => {
      for (const other of cluster.nodes.filter((h) => h !== node))
        execFileSync('ip', ['-n', node.netns, 'route', 'replace', cluster.podSubnetOf(other), 'via', other.ip]);
      await cluster.lab.run(
        node,
        `mkdir -p /etc/cni/net.d && cat > ${LAB_CNI_PATH} <<'CNI'\n${labCniConfig(cluster.podSubnetOf(node))}CNI`,
      );
    }),
  );
}
