/**
 * A package repository for lab hosts, which have no internet: real Debian packages for
 * containerd and runc (downloaded once with apt-get download) and FAKE kubelet, kubectl and
 * cri-tools packages (Debian has no kubelet package; these carry stub binaries that print a
 * version). Served over HTTP from the lab bridge address, laid out like a Debian mirror
 * (flat) and like pkgs.k8s.io (core:/stable:/v1.23/deb/).
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, normalize } from 'node:path';
import type { Lab } from './lab.js';

const CACHE = process.env.KUBESTRAP_LAB_CACHE ?? '/var/cache/kubestrap-lab';
const REPO_VERSION = 1;
export const FAKE_KUBE_VERSION = '1.23.17';

function fakeDeb(dir: string, name: string, version: string, binary: string, output: string): void {
  const root = join(dir, `build-${name}`);
  mkdirSync(join(root, 'DEBIAN'), { recursive: true });
  mkdirSync(join(root, 'usr/bin'), { recursive: true });
  writeFileSync(join(root, 'DEBIAN/control'), `Package: ${name}\nVersion: ${version}\nArchitecture: amd64\nMaintainer: kubestrap lab <lab@kubestrap.invalid>\nDescription: FAKE ${name} for kubestrap's lab tests (prints a version, does nothing else)\n`);
  writeFileSync(join(root, `usr/bin/${binary}`), `#!/bin/sh\necho '${output}'\n`);
  chmodSync(join(root, `usr/bin/${binary}`), 0o755);
  execFileSync('dpkg-deb', ['--root-owner-group', '-b', root, join(dir, `${name}_${version}_amd64.deb`)], { stdio: 'ignore' });
  rmSync(root, { recursive: true });
}

function index(dir: string): void {
  const packages = execFileSync('dpkg-scanpackages', ['-m', '.', '/dev/null'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  writeFileSync(join(dir, 'Packages'), packages);
}

/** Builds the repository once (cached by version); returns its root directory. */
export function ensurePackageRepo(): string {
  const root = join(CACHE, `repo-v${REPO_VERSION}`);
  if (existsSync(join(root, '.ready'))) return root;
  const building = `${root}.building`;
  rmSync(building, { recursive: true, force: true });
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
  fakeDeb(kube, 'kubelet', `${FAKE_KUBE_VERSION}-1.1`, 'kubelet', `Kubernetes v${FAKE_KUBE_VERSION}`);
  fakeDeb(kube, 'kubectl', `${FAKE_KUBE_VERSION}-1.1`, 'kubectl', `Client Version: v${FAKE_KUBE_VERSION}`);
  fakeDeb(kube, 'cri-tools', '1.26.0-1.1', 'crictl', 'crictl version v1.26.0');
  index(kube);
  writeFileSync(join(building, '.ready'), '');
  rmSync(root, { recursive: true, force: true });
  renameSync(building, root);
  return root;
}

export interface ServedRepo {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves the repository on the lab bridge (reachable by every lab host, nothing else). */
export function serveRepo(lab: Lab, root: string): Promise<ServedRepo> {
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
    server.listen(0, lab.gateway, () => {
      const port = (server.address() as { port: number }).port;
      resolve({ url: `http://${lab.gateway}:${port}`, close: () => new Promise((done) => server.close(() => done())) });
    });
  });
}

/** Points a lab host's own distribution mirror at the lab repository (as an air-gapped site would). */
export function useRepoAsDistroMirror(lab: Lab, host: Lab['hosts'][number], url: string): void {
  lab.inside(host, `rm -f /etc/apt/sources.list.d/*; echo 'deb [trusted=yes] ${url}/debian ./' > /etc/apt/sources.list`);
}
