/**
 * Calico from its release manifest: fetched from a pinned URL and checked against its sha256
 * (or read from a local file on air-gapped sites), then adapted to the cluster: the pod CIDR in
 * CALICO_IPV4POOL_CIDR, the MTU in calico-config, the images from a mirror when
 * cni.imageRepository is set.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../templates/objects.js';

export interface CalicoInput {
  readonly podSubnet: string;
  readonly mtu?: number;
  readonly imageRepository?: string;
}

/** The manifest's text; a download must match the pinned sha256, a local file may. */
export async function loadCalicoManifest(
  source: string,
  sha256: string | undefined,
  download: (url: string) => Promise<string> = fetchText,
): Promise<string> {
  const remote = /^https?:\/\//.test(source);
  const text = remote ? await download(source) : readLocal(source);
  const actual = createHash('sha256').update(text).digest('hex');
  if ((remote || sha256) && actual !== sha256) {
    throw new Error(
      `Calico manifest ${source} has sha256 ${actual}, but cluster.cni.calicoManifestSha256 pins ${sha256 ?? '(nothing)'}: refusing to install what was not reviewed`,
    );
  }
  return text;
}

function readLocal(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(
      `cluster.cni.calicoManifest: cannot read ${path}: ${code === 'ENOENT' ? 'no such file (local paths are relative to the inventory file)' : (code ?? String(err))}`,
      { cause: err },
    );
  }
}

async function fetchText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
  if (!res.ok) throw new Error(`downloading ${url}: HTTP ${res.status}`);
  return res.text();
}

const UPSTREAM_IMAGE = /^(?:docker\.io\/|quay\.io\/)?calico\//;

type Env = Array<{ name: string; value?: string }>;
type Container = { image?: string; env?: Env };

export function calicoObjects(manifest: string, input: CalicoInput): KubeObject[] {
  const objects = parseAllDocuments(manifest)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => !!o && typeof o === 'object' && 'kind' in o);
  return objects.map((object) => {
    if (object.kind === 'ConfigMap' && object.metadata.name === 'calico-config' && input.mtu) {
      return { ...object, data: { ...(object.data as Record<string, string>), veth_mtu: String(input.mtu) } };
    }
    if (object.kind !== 'DaemonSet' && object.kind !== 'Deployment') return object;
    const spec = object.spec as { template: { spec: { containers: Container[]; initContainers?: Container[] } } };
    const adapt = (c: Container): Container => {
      const image = c.image && input.imageRepository ? c.image.replace(UPSTREAM_IMAGE, `${input.imageRepository}/`) : c.image;
      if (object.metadata.name !== 'calico-node' || !c.env) return { ...c, image };
      const env = c.env.filter((e) => e.name !== 'CALICO_IPV4POOL_CIDR');
      return { ...c, image, env: [...env, { name: 'CALICO_IPV4POOL_CIDR', value: input.podSubnet }] };
    };
    const pod = spec.template.spec;
    return {
      ...object,
      spec: {
        ...spec,
        template: {
          ...spec.template,
          spec: {
            ...pod,
            containers: pod.containers.map(adapt),
            ...(pod.initContainers ? { initContainers: pod.initContainers.map(adapt) } : {}),
          },
        },
      },
    };
  });
}
