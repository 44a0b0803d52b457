/** The inventory's air-gap bundle: trusted as the inventory says, opened, and checked against what the inventory needs. */
import { resolve } from 'node:path';
import type { Inventory } from '../inventory/schema.js';
import { BundleError, bundleProblems, openBundle } from './bundle.js';
import { BundleKeyError, readTrustedKey } from './bundle-signature.js';
import type { OpenBundle } from '../kit/bundle.js';

/** The inventory with `file` (a --bundle flag, relative to the working directory) as its bundle. */
export function withBundle(inv: Inventory, file: string): Inventory {
  return { ...inv, cluster: { ...inv.cluster, airgap: { ...inv.cluster.airgap, bundle: resolve(file) } } };
}

/**
 * Opens cluster.airgap.bundle, before any host is touched, and refuses it, naming what failed,
 * when the inventory's trust (trustedKeys, bundleSha256) does not vouch for it or when it does
 * not serve the inventory.
 */
export async function airgapBundle(inv: Inventory): Promise<OpenBundle> {
  const airgap = inv.cluster.airgap;
  const keys = airgap.trustedKeys.map((file, i) => {
    try {
      return { file, key: readTrustedKey(file, `cluster.airgap.trustedKeys[${i}]:`) };
    } catch (err) {
      throw new BundleError(`${(err as BundleKeyError).message}; nothing was changed`);
    }
  });
  const policy = { keys, ...(airgap.bundleSha256 ? { sha256: airgap.bundleSha256 } : {}) };
  const bundle = await openBundle(airgap.bundle!, policy, { keys: 'cluster.airgap.trustedKeys', sha256: 'cluster.airgap.bundleSha256' });
  const problems = bundleProblems(inv, bundle);
  if (problems.length)
    throw new BundleError(`${bundle.file} does not serve this inventory; nothing was changed:\n  ${problems.join('\n  ')}`);
  return bundle;
}

/** The warning plan and apply print for a bundle nobody vouched for. */
export function untrustedBundleWarning(bundle: OpenBundle): string | undefined {
  if (bundle.trust.kind !== 'none') return undefined;
  return `warning: ${bundle.file} is used without authentication: the inventory trusts no signing key (cluster.airgap.trustedKeys) and pins no bundle.json (cluster.airgap.bundleSha256 ${bundle.manifestSha256}); whoever can change the bundle file chooses what runs on every node`;
}
