/**
 * containerd's configuration: the CRI plugin with the sandbox image from the cluster's image
 * repository (left at its default, it points at registry.k8s.io, the most common failure behind
 * a firewall), the cgroup driver the kubelet uses, and registry mirrors through hosts.toml files
 * under /etc/containerd/certs.d. containerd 1.6/1.7 read config version 2 (one CRI plugin);
 * containerd 2.x reads version 3, where the CRI plugin is split into io.containerd.cri.v1.images
 * (pinned_images.sandbox replaces sandbox_image) and io.containerd.cri.v1.runtime, as its own
 * `containerd config default` prints it. Since Kubernetes 1.35 the kubelet no longer names the
 * sandbox image, so containerd's setting is the only one.
 */
export const CONTAINERD_CONFIG = '/etc/containerd/config.toml';
export const CERTS_D = '/etc/containerd/certs.d';
export const CRICTL_CONFIG = '/etc/crictl.yaml';

export interface ContainerdSettings {
  readonly sandboxImage: string;
  readonly systemdCgroup: boolean;
  /** Lab hosts (containers) cannot raise OOM scores; containerd must not try. */
  readonly restrictOOMScoreAdj: boolean;
}

const toml = (s: string) => JSON.stringify(s);

const HEADER = `# Managed by kubestrap: containerd for Kubernetes. Changes here are overwritten;
# set cluster.containerRuntime in the inventory instead.`;

export function renderContainerdConfig(s: ContainerdSettings, configVersion: 2 | 3): string {
  if (configVersion === 3) return renderV3(s);
  return `${HEADER}
version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${toml(s.sandboxImage)}
  restrict_oom_score_adj = ${s.restrictOOMScoreAdj}

  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        # must match the kubelet's cgroupDriver
        SystemdCgroup = ${s.systemdCgroup}

  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = ${toml(CERTS_D)}
`;
}

function renderV3(s: ContainerdSettings): string {
  const images = "plugins.'io.containerd.cri.v1.images'";
  const runtime = "plugins.'io.containerd.cri.v1.runtime'";
  return `${HEADER}
version = 3

[${images}.pinned_images]
  sandbox = ${toml(s.sandboxImage)}

[${images}.registry]
  config_path = ${toml(CERTS_D)}

[${runtime}]
  restrict_oom_score_adj = ${s.restrictOOMScoreAdj}

  [${runtime}.containerd]
    default_runtime_name = "runc"

    [${runtime}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [${runtime}.containerd.runtimes.runc.options]
        # must match the kubelet's cgroupDriver
        SystemdCgroup = ${s.systemdCgroup}
`;
}

/** The upstream server of a registry as containerd names it (docker.io is special). */
function upstream(registry: string): string {
  return registry === 'docker.io' ? 'https://registry-1.docker.io' : `https://${registry}`;
}

/** `ca`: the CA file that vouches for the endpoints (a site registry's serving certificate). */
export function renderHostsToml(registry: string, endpoints: readonly string[], ca?: string): string {
  const hosts = endpoints.map((e) => `[host.${toml(e)}]\n  capabilities = ["pull", "resolve"]\n${ca ? `  ca = ${toml(ca)}\n` : ''}`);
  return `# Managed by kubestrap: mirrors for ${registry}\nserver = ${toml(upstream(registry))}\n\n${hosts.join('\n')}`;
}

export function renderCrictlConfig(socket: string): string {
  return `# Managed by kubestrap\nruntime-endpoint: ${socket}\nimage-endpoint: ${socket}\ntimeout: 10\n`;
}
