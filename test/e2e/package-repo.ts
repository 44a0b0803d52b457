/**
 * The e2e lab's Kubernetes package repository, laid out like pkgs.k8s.io (core:/stable:/v1.20/deb/)
 * and served on the lab bridge like any internal mirror: REAL kubelet, kubectl and kubeadm
 * 1.20.2 packages wrapping the binaries built from Debian's source (kubelet with its systemd unit,
 * kubeadm with its kubelet drop-in, as the upstream packages ship them), and cri-tools with the
 * real crictl 1.36.0 of the lab's add-on binaries (built from its upstream source: Debian has
 * neither the package nor its source).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildDeb, buildOnce, index } from '../lab/package-repo.js';
import { labAddonBinary } from './lab-addons.js';
import { e2eScript } from './scripts.js';

const CACHE = process.env.KUBESTRAP_LAB_CACHE ?? '/var/cache/kubestrap-lab';
const REPO_VERSION = 3;
export const E2E_KUBE_VERSION = '1.20.2';
const PACKAGE_REVISION = '1.1';
/** Builds (or finds cached) the Kubernetes binaries; returns the directory holding them. */
export function kubernetesBinaries(): string {
  const out = execFileSync('sh', [e2eScript('build-kubernetes.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return join(out.trim().split('\n').pop()!, 'bin');
}

const KUBELET_UNIT = `[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/home/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
`;

// The drop-in the upstream kubeadm package installs, so the reference kubeadm runs as its users run it.
const KUBEADM_DROP_IN = `[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
`;

/** Builds the repository once (cached by version); returns its root directory. */
export function ensureE2eRepo(): string {
  return buildOnce(join(CACHE, `e2e-repo-${E2E_KUBE_VERSION}-v${REPO_VERSION}`), buildE2eRepo);
}

function buildE2eRepo(building: string): void {
  const bin = kubernetesBinaries();
  const minor = E2E_KUBE_VERSION.split('.').slice(0, 2).join('.');
  const repo = join(building, 'kubernetes', 'core:', 'stable:', `v${minor}`, 'deb');
  mkdirSync(repo, { recursive: true });
  const version = `${E2E_KUBE_VERSION}-${PACKAGE_REVISION}`;
  buildDeb(repo, {
    name: 'kubelet',
    version,
    description: `Kubernetes node agent ${E2E_KUBE_VERSION} (built from Debian's kubernetes source for kubestrap's e2e lab)`,
    depends: 'iptables, conntrack, ebtables, ethtool, socat, iproute2, mount',
    files: { 'usr/bin/kubelet': { copyFrom: join(bin, 'kubelet') }, 'lib/systemd/system/kubelet.service': KUBELET_UNIT },
    postinst: 'if [ -d /run/systemd/system ]; then systemctl daemon-reload; systemctl enable kubelet >/dev/null 2>&1 || true; fi',
  });
  buildDeb(repo, {
    name: 'kubectl',
    version,
    description: `Kubernetes command-line client ${E2E_KUBE_VERSION} (built from Debian's kubernetes source for kubestrap's e2e lab)`,
    files: { 'usr/bin/kubectl': { copyFrom: join(bin, 'kubectl') } },
  });
  buildDeb(repo, {
    name: 'kubeadm',
    version,
    description: `kubeadm ${E2E_KUBE_VERSION}, the reference kubestrap's e2e baseline runs (built from Debian's kubernetes source)`,
    depends: 'kubelet',
    files: {
      'usr/bin/kubeadm': { copyFrom: join(bin, 'kubeadm') },
      'lib/systemd/system/kubelet.service.d/10-kubeadm.conf': KUBEADM_DROP_IN,
    },
    postinst: 'if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi',
  });
  buildDeb(repo, {
    name: 'cri-tools',
    version: `1.36.0-${PACKAGE_REVISION}`,
    description: "crictl 1.36.0 for kubestrap's e2e lab (built from cri-tools' upstream source, see the lab add-ons' PROVENANCE.md)",
    files: { 'usr/bin/crictl': { copyFrom: labAddonBinary('crictl-v1.36.0') } },
  });
  index(repo);
}
