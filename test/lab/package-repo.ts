/**
 * A package repository for lab hosts, which have no internet: real Debian packages for
 * containerd and runc (downloaded once with apt-get download), Debian unstable's containerd 2.x
 * in a second flat repository (debian-sid/: what a host with containerd 2 installs), and FAKE kubelet, kubectl and
 * cri-tools packages (Debian has no kubelet package; these carry stub binaries that print a
 * version). Served over HTTP from the lab bridge address, laid out like a Debian mirror
 * (flat) and like pkgs.k8s.io (core:/stable:/v1.23/deb/).
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  createReadStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname, join, normalize } from 'node:path';
import { startLab, type Lab, type LabOptions } from './lab.js';

const CACHE = process.env.KUBESTRAP_LAB_CACHE ?? '/var/cache/kubestrap-lab';
const REPO_VERSION = 2;
export const FAKE_KUBE_VERSION = '1.23.17';

export interface DebSpec {
  readonly name: string;
  readonly version: string;
  readonly description: string;
  readonly depends?: string;
  /** Installed path → file content, or a file on this machine to copy (mode 0755 for bin/ paths). */
  readonly files: Readonly<Record<string, string | { readonly copyFrom: string }>>;
  readonly postinst?: string;
  /** Default amd64. */
  readonly architecture?: string;
}

/** Builds a .deb into `dir` with dpkg-deb (root-owned files). */
export function buildDeb(dir: string, spec: DebSpec): void {
  const root = join(dir, `build-${spec.name}`);
  mkdirSync(join(root, 'DEBIAN'), { recursive: true });
  const depends = spec.depends ? `Depends: ${spec.depends}\n` : '';
  writeFileSync(
    join(root, 'DEBIAN/control'),
    `Package: ${spec.name}\nVersion: ${spec.version}\nArchitecture: ${spec.architecture ?? 'amd64'}\nMaintainer: kubestrap lab <lab@kubestrap.invalid>\n${depends}Description: ${spec.description}\n`,
  );
  if (spec.postinst) {
    writeFileSync(join(root, 'DEBIAN/postinst'), `#!/bin/sh\nset -e\n${spec.postinst}\n`);
    chmodSync(join(root, 'DEBIAN/postinst'), 0o755);
  }
  for (const [path, source] of Object.entries(spec.files)) {
    const target = join(root, path);
    mkdirSync(dirname(target), { recursive: true });
    if (typeof source === 'string') writeFileSync(target, source);
    else copyFileSync(source.copyFrom, target);
    chmodSync(target, /\/s?bin\//.test(path) ? 0o755 : 0o644);
  }
  execFileSync(
    'dpkg-deb',
    ['--root-owner-group', '-b', root, join(dir, `${spec.name}_${spec.version}_${spec.architecture ?? 'amd64'}.deb`)],
    { stdio: 'ignore' },
  );
  rmSync(root, { recursive: true });
}

/** Builds an .rpm into `dir/<arch>/` with rpmbuild (FAKE content: one script in /usr/bin). */
export function buildRpm(
  dir: string,
  spec: { name: string; version: string; release: string; requires?: readonly string[]; architecture?: string },
): void {
  const top = join(dir, `rpmbuild-${spec.name}-${spec.version}`);
  mkdirSync(top, { recursive: true });
  const specFile = join(top, `${spec.name}.spec`);
  writeFileSync(
    specFile,
    [
      `Name: ${spec.name}`,
      `Version: ${spec.version}`,
      `Release: ${spec.release}`,
      `Summary: FAKE ${spec.name} for kubestrap's tests`,
      'License: Apache-2.0',
      `BuildArch: ${spec.architecture ?? 'x86_64'}`,
      ...(spec.requires ?? []).map((r) => `Requires: ${r}`),
      '%description',
      `FAKE ${spec.name}`,
      '%install',
      'mkdir -p %{buildroot}/usr/bin',
      `printf '#!/bin/sh\\n' > %{buildroot}/usr/bin/${spec.name}`,
      '%files',
      `/usr/bin/${spec.name}`,
      '',
    ].join('\n'),
  );
  execFileSync('rpmbuild', ['-bb', '--define', `_topdir ${top}`, '--define', `_rpmdir ${dir}`, specFile], { stdio: 'ignore' });
  rmSync(top, { recursive: true });
}

function fakeDeb(dir: string, name: string, version: string, binary: string, output: string): void {
  buildDeb(dir, {
    name,
    version,
    description: `FAKE ${name} for kubestrap's lab tests (prints a version, does nothing else)`,
    files: { [`usr/bin/${binary}`]: `#!/bin/sh\necho '${output}'\n` },
  });
}

/** Writes the Packages index of a flat repository. */
export function index(dir: string): void {
  const packages = execFileSync('dpkg-scanpackages', ['-m', '.', '/dev/null'], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  writeFileSync(join(dir, 'Packages'), packages);
}

/**
 * Downloads a package from Debian unstable with a private apt configuration (nothing in this
 * machine's /etc changes), into a flat repository of its own.
 */
function downloadFromUnstable(dir: string, pkg: string): void {
  const state = join(dir, '.apt');
  mkdirSync(join(state, 'lists', 'partial'), { recursive: true });
  const sources = readFileSync('/etc/apt/sources.list.d/debian.sources', 'utf8');
  const mirror =
    /^URIs:\s*(\S+)/m.exec(sources.split('\n\n').find((s) => !s.includes('security')) ?? '')?.[1] ?? 'http://deb.debian.org/debian';
  writeFileSync(join(state, 'sources.list'), `deb ${mirror} sid main\n`);
  const apt = [
    '-o',
    `Dir::Etc::SourceList=${join(state, 'sources.list')}`,
    '-o',
    'Dir::Etc::SourceParts=/nonexistent',
    '-o',
    `Dir::State::Lists=${join(state, 'lists')}`,
  ];
  execFileSync('apt-get', [...apt, 'update', '-qq'], { stdio: 'ignore' });
  execFileSync('apt-get', [...apt, 'download', pkg], { cwd: dir, stdio: 'ignore' });
  rmSync(state, { recursive: true, force: true });
  index(dir);
}

/** Builds the repository once (cached by version); returns its root directory. */
export function ensurePackageRepo(): string {
  return buildOnce(join(CACHE, `repo-v${REPO_VERSION}`), buildPackageRepo);
}

/**
 * `root`, built by `build` once for the machine's every test process: each process that finds it
 * missing builds in a directory of its own (lanes and forks start at once on a cold cache; one
 * shared directory had them delete each other's work), and the first to finish puts it in place.
 */
export function buildOnce(root: string, build: (dir: string) => void): string {
  if (existsSync(join(root, '.ready'))) return root;
  const building = `${root}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  try {
    build(building);
    writeFileSync(join(building, '.ready'), '');
    if (!existsSync(join(root, '.ready'))) {
      rmSync(root, { recursive: true, force: true });
      renameSync(building, root);
    }
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
  return root;
}

function buildPackageRepo(building: string): void {
  const debian = join(building, 'debian');
  const kube = join(building, 'kubernetes', 'core:', 'stable:', 'v1.23', 'deb');
  mkdirSync(debian, { recursive: true });
  mkdirSync(kube, { recursive: true });
  const download = () => execFileSync('apt-get', ['download', 'containerd', 'runc'], { cwd: debian, stdio: 'ignore' });
  try {
    download();
  } catch {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
    download();
  }
  index(debian);
  downloadFromUnstable(join(building, 'debian-sid'), 'containerd');
  fakeDeb(kube, 'kubelet', `${FAKE_KUBE_VERSION}-1.1`, 'kubelet', `Kubernetes v${FAKE_KUBE_VERSION}`);
  fakeDeb(kube, 'kubectl', `${FAKE_KUBE_VERSION}-1.1`, 'kubectl', `Client Version: v${FAKE_KUBE_VERSION}`);
  fakeDeb(kube, 'cri-tools', '1.26.0-1.1', 'crictl', 'crictl version v1.26.0');
  index(kube);
}

export interface ServedRepo {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves the repository on the lab bridge (reachable by every lab host, nothing else). */
export function serveRepo(lab: Lab, root: string): Promise<ServedRepo> {
  return serveDirectory(root, lab.gateway);
}

/** Serves the files under `root` over HTTP on `address` (a free port). */
export function serveDirectory(root: string, address: string): Promise<ServedRepo> {
  const server: Server = createServer((req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!)).replace(/^(\.\.[/\\])+/, '');
    const file = join(root, path);
    if (!file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': statSync(file).size });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(0, address, () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        url: `http://${address}:${port}`,
        close: () =>
          new Promise((done) =>
            server.close(() => {
              done();
            }),
          ),
      });
    });
  });
}

/**
 * Points a lab host's own distribution mirror at the lab repository (as an air-gapped site
 * would): its bookworm packages, and with `unstable` Debian unstable's too (apt then takes the
 * newest containerd).
 */
export function useRepoAsDistroMirror(lab: Lab, host: Lab['hosts'][number], url: string, unstable = false): void {
  const lines = [`deb [trusted=yes] ${url}/debian ./`, ...(unstable ? [`deb [trusted=yes] ${url}/debian-sid ./`] : [])];
  lab.inside(host, `rm -f /etc/apt/sources.list.d/*; printf '%s\\n' ${lines.map((l) => `'${l}'`).join(' ')} > /etc/apt/sources.list`);
}

/** A lab whose hosts take their distribution's packages from the lab repository, served while it runs. */
export interface MirroredLab {
  readonly lab: Lab;
  readonly repo: ServedRepo;
  /** Stops serving the repository, then the lab. */
  readonly stop: () => Promise<void>;
}

/** Starts a lab and points every host's distribution mirror at the lab repository (see useRepoAsDistroMirror). */
export async function startMirroredLab(options: LabOptions, unstable = false): Promise<MirroredLab> {
  const root = ensurePackageRepo();
  const lab = await startLab(options);
  const repo = await serveRepo(lab, root).catch(async (err: unknown) => {
    await lab.stop();
    throw err;
  });
  for (const host of lab.hosts) useRepoAsDistroMirror(lab, host, repo.url, unstable);
  return {
    lab,
    repo,
    stop: async () => {
      await repo.close();
      await lab.stop();
    },
  };
}
