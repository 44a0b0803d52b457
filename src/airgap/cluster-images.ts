/**
 * Every container image a cluster of the inventory runs, read from what kubestrap itself
 * renders (the static pods, the node-local balancer, the add-on objects, the sandbox image),
 * so a bundle can never disagree with the manifests: control planes need their static pods',
 * workers in node-local mode the balancer's, every node the sandbox and the add-ons' images, and
 * in site registry mode its host the registry's.
 */
import { isControlPlane, resolveHosts, type ResolvedHost } from '../inventory/resolve.js';
import type { Inventory } from '../inventory/schema.js';
import { addonObjects } from '../kube/addon-set.js';
import { controlPlaneInput, loadBalancerInput } from '../kube/node-files.js';
import type { KubeObject } from '../../templates/objects.js';
import { parseVersion } from '../util/version.js';
import { controlPlanePods } from '../../templates/control-plane.js';
import { loadBalancerPod } from '../../templates/api-load-balancer.js';
import { sandboxImage } from '../../templates/versions.js';

import type { ImageUser, NodeRole } from '../kit/bundle.js';

export interface NeededImage {
  readonly name: string;
  readonly roles: readonly ImageUser[];
}

export const roleOf = (host: ResolvedHost): NodeRole => (isControlPlane(host) ? 'control-plane' : 'worker');

type PodSpecLike = { containers?: Array<{ image?: string }>; initContainers?: Array<{ image?: string }> };

/** Images of a Pod, or of the pod template of a workload object. */
function imagesOf(object: KubeObject | { spec?: unknown }): string[] {
  const spec = object.spec as { template?: { spec?: PodSpecLike } } & PodSpecLike;
  const pod = spec?.template?.spec ?? spec;
  return [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])].map((c) => c.image).filter((i): i is string => !!i);
}

/** The images of the inventory's cluster and which nodes run them, in a stable order. */
export function clusterImages(inv: Inventory, calicoManifest: string | undefined): NeededImage[] {
  const c = inv.cluster;
  const minor = parseVersion(c.kubernetesVersion)!.minor;
  const roles = new Map<string, Set<ImageUser>>();
  const need = (images: readonly string[], ...who: ImageUser[]) => {
    for (const image of images) for (const role of who) (roles.get(image) ?? roles.set(image, new Set()).get(image)!).add(role);
  };
  const firstControlPlane = resolveHosts(inv).find(isControlPlane)!;
  need([sandboxImage(c.imageRepository, minor, c.containerRuntime.sandboxImage)], 'control-plane', 'worker');
  need(Object.values(controlPlanePods(controlPlaneInput(inv, firstControlPlane, []))).flatMap(imagesOf), 'control-plane');
  if (c.apiLoadBalancer.mode === 'node-local') need(imagesOf(loadBalancerPod(loadBalancerInput(inv))), 'worker');
  // the address is not part of any image: any server will do
  need(addonObjects(inv, 'https://api.invalid:6443', calicoManifest).flatMap(imagesOf), 'control-plane', 'worker');
  if (c.airgap.registry) need([c.airgap.registry.image], 'site-registry');
  return [...roles].map(([name, who]) => ({ name, roles: [...who].sort() })).sort((a, b) => a.name.localeCompare(b.name));
}
