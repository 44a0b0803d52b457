/**
 * container-runtime: containerd installed (distribution or Docker repository), configured for
 * Kubernetes (systemd cgroup driver, sandbox image from the cluster's image repository, registry
 * mirrors), crictl pointed at it, and the service enabled and running. The runtime's cgroup
 * driver is checked against the kubelet's when the kubelet is already configured.
 */
import { probe } from '../src/transport/probe.js';
import { CONTAINERD_CONFIG, CRICTL_CONFIG } from '../templates/containerd.js';
import { containerdProblem } from '../src/preflight/checks.js';
import { quote } from '../src/transport/quote.js';
import { downloadKey, packageOps } from '../src/facts/packages.js';
import type { HostFacts } from '../src/facts/probe.js';
import { changedSinceStart, noInitSystem, parseServiceStatus, serviceOf, startAndChangeTimes } from '../src/facts/services.js';
import type { Inventory } from '../src/inventory/schema.js';
import { parseVersion } from '../src/util/version.js';
import { whenUnlocked } from '../src/facts/package-lock.js';
import { applyFiles, planFiles, type DesiredFile, type FilePayload } from '../src/kit/managed-files.js';
import { desiredRuntimeFiles } from '../src/kube/node-files.js';
import type { Change, Phase } from '../src/kit/phase.js';
import { KUBELET_CONFIG } from '../templates/paths.js';

type Payload =
  | FilePayload
  | { kind: 'key'; url: string; path: string }
  | { kind: 'install'; packages: readonly string[] }
  | { kind: 'service'; action: 'enable' | 'restart' };

const DOCKER_KEY = '/etc/apt/keyrings/docker.asc';
const isRuntimeConfig = (path: string) => path.startsWith('/etc/containerd/') || path === CRICTL_CONFIG;

/** containerd's package name per source and package manager (RHEL has it only from Docker's repo). */
function runtimePackages(inv: Inventory, facts: HostFacts): string[] | string {
  const docker = inv.cluster.containerRuntime.source === 'docker';
  if (facts.packageManager === 'apt') return docker ? ['containerd.io'] : ['containerd'];
  if (facts.packageManager === 'dnf' || facts.packageManager === 'yum') {
    return docker
      ? ['containerd.io']
      : `the ${facts.os.prettyName} repositories have no containerd; set cluster.containerRuntime.source: docker (with dockerRepository for a mirror)`;
  }
  return `no supported package manager (found ${facts.packageManager}); install containerd yourself`;
}

/** Docker's repository definition for source: docker, and (apt) where its signing key comes from. */
function dockerRepo(inv: Inventory, facts: HostFacts): { file: DesiredFile; keyUrl?: string } | undefined {
  if (inv.cluster.containerRuntime.source !== 'docker') return undefined;
  const base = (inv.cluster.containerRuntime.dockerRepository ?? 'https://download.docker.com').replace(/\/$/, '');
  if (facts.packageManager === 'apt') {
    const distro = facts.os.id === 'ubuntu' ? 'ubuntu' : 'debian';
    return {
      file: {
        path: '/etc/apt/sources.list.d/docker.list',
        content: `# Managed by kubestrap\ndeb [signed-by=${DOCKER_KEY}] ${base}/linux/${distro} ${facts.os.codename} stable\n`,
        mode: 0o644,
      },
      keyUrl: `${base}/linux/${distro}/gpg`,
    };
  }
  return {
    file: {
      path: '/etc/yum.repos.d/docker-ce.repo',
      content: [
        '# Managed by kubestrap',
        '[docker-ce-stable]',
        'name=Docker CE Stable',
        `baseurl=${base}/linux/centos/$releasever/$basearch/stable`,
        'enabled=1',
        'gpgcheck=1',
        `gpgkey=${base}/linux/centos/gpg`,
        '',
      ].join('\n'),
      mode: 0o644,
    },
  };
}

/** The version the package manager would install (its candidate), as one shell command. */
function candidateVersion(facts: HostFacts, pkg: string): string {
  if (facts.packageManager === 'apt') return `apt-cache policy ${quote(pkg)} 2>/dev/null | awk '/Candidate:/ {print $2}'`;
  return `${facts.packageManager} -q info ${quote(pkg)} 2>/dev/null | awk '/^Version/ {print $3; exit}'`;
}

export const containerRuntimePhase: Phase<Payload> = {
  name: 'container-runtime',
  title: 'containerd (systemd cgroups, sandbox image from the mirror)',
  description: 'Installs containerd, writes /etc/containerd/config.toml, registry mirrors and /etc/crictl.yaml, and enables the service.',
  async plan(ctx, target) {
    const inv = ctx.inventory;
    const { host, facts } = target;
    const changes: Change<Payload>[] = [];
    const warnings: string[] = [];
    const pkgs = runtimePackages(inv, facts);
    const seen = await probe(host, {
      binary: `command -v containerd >/dev/null && containerd --version | awk '{print $3}'`,
      candidate: typeof pkgs === 'string' ? 'true' : `command -v containerd >/dev/null || ${candidateVersion(facts, pkgs[0]!)}`,
      kubelet: `sed -n 's/^cgroupDriver: *//p' ${KUBELET_CONFIG}`,
      service: serviceOf(facts.initSystem, 'containerd')?.status() ?? 'true',
      times: startAndChangeTimes('containerd', [CONTAINERD_CONFIG]),
    });
    const binary = seen.binary[0]?.replace(/^v/, '');
    // apt-cache prints "(none)" before the lists are fetched: then the version is not known yet
    const candidate = /^(?:\d+:)?(\d\S*)/.exec(seen.candidate[0] ?? '')?.[1];
    if (binary === undefined) {
      if (typeof pkgs === 'string') throw new Error(pkgs);
      const repo = dockerRepo(inv, facts);
      if (repo) changes.push(...(await planFiles(host, [repo.file])));
      if (repo?.keyUrl)
        changes.push({
          target: DOCKER_KEY,
          summary: `download signing key from ${repo.keyUrl}`,
          payload: { kind: 'key', url: repo.keyUrl, path: DOCKER_KEY },
        });
      changes.push({ target: 'packages', summary: `install ${pkgs.join(' ')}`, payload: { kind: 'install', packages: pkgs } });
    }
    const version = binary ?? candidate;
    const problem = version ? containerdProblem(parseVersion(inv.cluster.kubernetesVersion)!.minor, version) : undefined;
    if (problem?.severity === 'error') throw new Error(problem.message);
    if (problem) warnings.push(problem.message);
    const fileChanges = await planFiles(host, desiredRuntimeFiles(inv, version));
    changes.push(...fileChanges);

    const kubeletDriver = seen.kubelet[0];
    if (kubeletDriver && kubeletDriver !== inv.cluster.containerRuntime.cgroupDriver) {
      warnings.push(
        `cgroup driver mismatch: the kubelet (${KUBELET_CONFIG}) uses ${kubeletDriver}, containerd is set to ${inv.cluster.containerRuntime.cgroupDriver}; pods will fail to start until both agree`,
      );
    }
    if (!serviceOf(facts.initSystem, 'containerd')) {
      warnings.push(
        noInitSystem(
          facts.initSystem,
          `containerd is configured but must be started by whatever supervises this host${facts.container ? ` (container ${facts.container})` : ''}`,
        ),
      );
    } else {
      const status = parseServiceStatus(seen.service.join('\n'));
      if (!status.enabled || !status.active)
        changes.push({ target: 'service containerd', summary: 'enable and start', payload: { kind: 'service', action: 'enable' } });
      else if (fileChanges.some((c) => c.target === CONTAINERD_CONFIG))
        changes.push({
          target: 'service containerd',
          summary: 'restart (configuration changed)',
          payload: { kind: 'service', action: 'restart' },
        });
      // a run that wrote the configuration and died before the restart left the file right and containerd on the old one
      else if (changedSinceStart(seen.times.join('\n')))
        changes.push({
          target: 'service containerd',
          summary: 'restart (configuration changed since it started)',
          payload: { kind: 'service', action: 'restart' },
        });
    }
    return { changes, warnings };
  },
  async apply(ctx, target, changes) {
    const { host, facts } = target;
    // the repository first, then the package (which may create /etc/containerd), then our config
    await applyFiles(
      host,
      changes.filter((c) => !isRuntimeConfig(c.target)),
    );
    for (const { payload } of changes) if (payload.kind === 'key') await host.check(downloadKey(payload.url, payload.path));
    const ops = packageOps(facts.packageManager);
    const installs = changes.filter((c) => c.payload.kind === 'install');
    if (installs.length && ops)
      await whenUnlocked(target.host, ops.locks, (line) => {
        ctx.progress(target.spec.name, line);
      });
    for (const { payload } of installs)
      if (payload.kind === 'install' && ops)
        await host.check(ops.install(payload.packages.map((name) => ({ name }))), { timeoutMs: 15 * 60_000 });
    if (installs.length) {
      // the configuration's format follows the containerd that was installed (2.x: version 3)
      const installed = /^containerd \S+ v?(\S+)/m.exec((await host.check('containerd --version')).stdout)?.[1];
      await applyFiles(host, await planFiles(host, desiredRuntimeFiles(ctx.inventory, installed)));
    } else {
      await applyFiles(
        host,
        changes.filter((c) => isRuntimeConfig(c.target)),
      );
    }
    const containerd = serviceOf(facts.initSystem, 'containerd');
    for (const { payload } of changes) {
      if (payload.kind !== 'service' || !containerd) continue;
      await host.check(payload.action === 'enable' ? `${containerd.enableNow()} && ${containerd.restart()}` : containerd.restart());
    }
  },
};
