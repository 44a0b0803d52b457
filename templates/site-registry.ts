/**
 * The site registry of an air-gapped site (cluster.airgap.registry): the Distribution
 * registry's configuration and the systemd unit that runs its image with containerd's `ctr`.
 * A systemd unit rather than a static pod: it must serve images before any kubelet runs (the
 * control plane's own images come from it), keep serving while kubelets restart or a node is
 * reset, and not depend on the cluster it bootstraps.
 */
import { stringify } from 'yaml';

export const SITE_REGISTRY_UNIT = 'kubestrap-registry.service';
export const SITE_REGISTRY_UNIT_PATH = `/etc/systemd/system/${SITE_REGISTRY_UNIT}`;
/** Configuration, serving certificate and key, and the CA that signed them (bind-mounted read-only). */
export const SITE_REGISTRY_ETC = '/etc/kubestrap/registry';
export const SITE_REGISTRY_DATA = '/var/lib/kubestrap/registry';
/** The containerd namespace of the registry's image and container, out of the kubelet's sight and garbage collection. */
export const SITE_REGISTRY_NAMESPACE = 'kubestrap';
const CONTAINER = 'kubestrap-registry';
/** Where the registry image reads its configuration (the official image's path). */
const IN_CONTAINER_ETC = '/etc/docker/registry';

export function siteRegistryConfig(port: number): string {
  return `# Managed by kubestrap: the site registry of an air-gapped cluster\n${stringify({
    version: 0.1,
    log: { level: 'info', accesslog: { disabled: false } },
    storage: { filesystem: { rootdirectory: '/var/lib/registry' }, delete: { enabled: false } },
    http: { addr: `:${port}`, tls: { certificate: `${IN_CONTAINER_ETC}/tls.crt`, key: `${IN_CONTAINER_ETC}/tls.key` } },
  })}`;
}

export function siteRegistryUnit(image: string): string {
  const ctr = `ctr -n ${SITE_REGISTRY_NAMESPACE}`;
  const mounts = [
    `type=bind,src=${SITE_REGISTRY_ETC},dst=${IN_CONTAINER_ETC},options=rbind:ro`,
    `type=bind,src=${SITE_REGISTRY_DATA},dst=/var/lib/registry,options=rbind:rw`,
  ]
    .map((m) => `--mount ${m}`)
    .join(' ');
  return [
    '# Managed by kubestrap: the site registry of an air-gapped cluster (cluster.airgap.registry)',
    '[Unit]',
    'Description=kubestrap site registry',
    'After=containerd.service',
    'Requires=containerd.service',
    '',
    '[Service]',
    // a container left by a crash or a killed containerd would make `ctr run` refuse the name
    `ExecStartPre=-/bin/sh -c '${ctr} tasks kill -s SIGKILL ${CONTAINER}; ${ctr} tasks delete -f ${CONTAINER}; ${ctr} containers delete ${CONTAINER}'`,
    `ExecStartPre=/bin/mkdir -p ${SITE_REGISTRY_DATA}`,
    `ExecStart=/bin/sh -c 'exec ${ctr} run --rm --net-host ${mounts} ${image} ${CONTAINER}'`,
    `ExecStop=-/bin/sh -c '${ctr} tasks kill -s SIGTERM ${CONTAINER}'`,
    'Restart=always',
    'RestartSec=2',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}
