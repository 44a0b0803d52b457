/**
 * How a live API object differs from the one kubestrap wants: every field kubestrap sets must be
 * there with the same value (the API server's defaults and other writers' additions aside).
 * Text that is a YAML document (a ConfigMap's component configuration, a kubeconfig) compares
 * as a document; kubeadm-config's ClusterConfiguration compares as the settings kubestrap reads
 * from it, since kubeadm stores it with its defaults filled in.
 */
import { isDeepStrictEqual } from 'node:util';
import { readKubeadmConfig } from './kubeadm-config.js';
import { sameYamlDocument } from '../util/yaml-equivalence.js';

function sameClusterConfiguration(desired: string, live: string): boolean {
  try {
    return isDeepStrictEqual(readKubeadmConfig({ ClusterConfiguration: desired }), readKubeadmConfig({ ClusterConfiguration: live }));
  } catch {
    return false;
  }
}

function sameText(path: string, desired: string, live: unknown): boolean {
  if (desired === live) return true;
  if (typeof live !== 'string') return typeof live === 'number' && String(live) === desired;
  return path.endsWith('data.ClusterConfiguration') ? sameClusterConfiguration(desired, live) : sameYamlDocument(desired, live);
}

/** The paths (data.config.conf, spec.template.spec.tolerations) where `live` lacks what `desired` says; empty when it has it all. */
export function objectDifferences(desired: unknown, live: unknown, path = ''): string[] {
  if (desired === null || typeof desired !== 'object') {
    const same = typeof desired === 'string' ? sameText(path, desired, live) : desired === live;
    return same ? [] : [path || '(value)'];
  }
  if (Array.isArray(desired)) {
    if (!Array.isArray(live) || live.length !== desired.length) return [path];
    return desired.flatMap((d, i) => objectDifferences(d, live[i], `${path}[${i}]`));
  }
  if (live === null || typeof live !== 'object' || Array.isArray(live)) return [path || '(object)'];
  return Object.entries(desired).flatMap(([k, v]) =>
    v === undefined ? [] : objectDifferences(v, (live as Record<string, unknown>)[k], path ? `${path}.${k}` : k),
  );
}
