/** The inventory's air-gap bundle, opened and checked against what the inventory needs. */
import { resolve } from 'node:path';
import type { Inventory } from '../inventory/schema.js';
import { BundleError, bundleProblems, openBundle, type OpenBundle } from './bundle.js';

/** The inventory with `file` (a --bundle flag, relative to the working directory) as its bundle. */
export function withBundle(inv: Inventory, file: string): Inventory {
  return { ...inv, cluster: { ...inv.cluster, airgap: { ...inv.cluster.airgap, bundle: resolve(file) } } };
}

/** Opens cluster.airgap.bundle and refuses it, naming everything missing, when it does not serve the inventory. */
export async function airgapBundle(inv: Inventory): Promise<OpenBundle> {
  const bundle = await openBundle(inv.cluster.airgap.bundle!);
  const problems = bundleProblems(inv, bundle);
  if (problems.length) throw new BundleError(`${bundle.file} does not serve this inventory; nothing was changed:\n  ${problems.join('\n  ')}`);
  return bundle;
}
