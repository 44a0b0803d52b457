/**
 * What a node's containerd is set to, read from its config.toml and certs.d hosts.toml files
 * the way containerd reads them: config version 1 (plugins.cri), 2 (one CRI plugin,
 * io.containerd.grpc.v1.cri) or 3 (containerd 2.x: io.containerd.cri.v1.images and
 * io.containerd.cri.v1.runtime). Missing settings take containerd's own defaults.
 */
import { parse } from 'smol-toml';
import { parseImageRef } from '../util/image-ref.js';

export interface ContainerdReading {
  readonly cgroupDriver: 'systemd' | 'cgroupfs';
  /** Absent: containerd's built-in pause image (registry.k8s.io, out of reach behind a firewall). */
  readonly sandboxImage?: string;
  /** A sandbox image the file names that is not an image reference: never carried into the inventory (it would reach the kubelet's flags). */
  readonly unusableSandboxImage?: string;
  readonly restrictOOMScoreAdj: boolean;
  /** Registry host → mirror endpoints, from certs.d hosts.toml files or the old registry.mirrors table. */
  readonly registryMirrors: Readonly<Record<string, readonly string[]>>;
}

type Table = Record<string, unknown>;
const table = (v: unknown): Table => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Table) : {});
const dig = (root: Table, ...path: string[]): Table => path.reduce((t, key) => table(t[key]), root);

/** `hostsToml`: registry host → that host's certs.d/<host>/hosts.toml text. */
export function readContainerdConfig(
  configToml: string | undefined,
  hostsToml: ReadonlyMap<string, string> = new Map(),
): ContainerdReading {
  const config = configToml ? (parse(configToml) as Table) : {};
  const plugins = dig(config, 'plugins');
  const version = Number(config.version ?? 1);
  // where each setting lives in each config version
  const cri =
    version >= 3
      ? dig(plugins, 'io.containerd.cri.v1.runtime')
      : version === 2
        ? dig(plugins, 'io.containerd.grpc.v1.cri')
        : dig(plugins, 'cri');
  const images = version >= 3 ? dig(plugins, 'io.containerd.cri.v1.images') : cri;
  const sandbox = version >= 3 ? dig(images, 'pinned_images').sandbox : cri.sandbox_image;
  const runc = dig(cri, 'containerd', 'runtimes', 'runc', 'options');
  const oldMirrors = dig(images, 'registry', 'mirrors');
  const mirrors: Record<string, readonly string[]> = {};
  for (const [registry, entry] of Object.entries(oldMirrors)) {
    const endpoints = table(entry).endpoint;
    if (Array.isArray(endpoints)) mirrors[registry] = endpoints.map(String);
  }
  for (const [registry, text] of hostsToml) {
    const hosts = Object.keys(dig(parse(text), 'host'));
    if (hosts.length) mirrors[registry] = hosts;
  }
  const named = typeof sandbox === 'string' && sandbox ? sandbox : undefined;
  const usable = named !== undefined && isImageRef(named);
  return {
    cgroupDriver: runc.SystemdCgroup === true ? 'systemd' : 'cgroupfs',
    ...(named !== undefined ? (usable ? { sandboxImage: named } : { unusableSandboxImage: named }) : {}),
    restrictOOMScoreAdj: cri.restrict_oom_score_adj === true,
    registryMirrors: mirrors,
  };
}

function isImageRef(text: string): boolean {
  try {
    parseImageRef(text);
    return /^[a-z0-9][A-Za-z0-9._/:@-]*$/.test(text);
  } catch {
    return false;
  }
}
