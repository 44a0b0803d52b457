/** Reads an inventory file with source positions, so every problem can name file:line:column. */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { expandHome } from '../util/paths.js';
import { formatPath, InventoryError, type FieldPath } from './issues.js';
import { readDocument } from './read-document.js';
import { inventorySchema, type Inventory } from './schema.js';
import { MAX_HOSTS, validateInventory, type ValidateOptions } from './validate.js';

export interface LoadedInventory {
  readonly file: string;
  readonly inventory: Inventory;
  /** Where a field (or its nearest present ancestor) stands in the file. */
  locate(path: FieldPath): { line: number; column: number };
}

const MAX_INVENTORY_BYTES = 8 << 20;

/** Parses and validates inventory text; throws InventoryError listing every problem. */
export async function parseInventory(text: string, file: string, options: ValidateOptions = {}): Promise<LoadedInventory> {
  const limits = { maxBytes: MAX_INVENTORY_BYTES, tooLarge: `an inventory of ${MAX_HOSTS} hosts is far smaller` };
  const { value: inventory, issues, locate } = readDocument(text, file, inventorySchema, limits);
  if (inventory) {
    for (const problem of await validateInventory(inventory, options)) {
      const { line, column } = locate(problem.path);
      issues.push({ file, line, column, path: formatPath(problem.path), message: problem.message });
    }
  }
  issues.sort((a, b) => a.line - b.line || a.column - b.column);
  if (issues.length || !inventory) throw new InventoryError(issues);
  return { file, inventory, locate };
}

export async function loadInventory(file: string, options: ValidateOptions = {}): Promise<LoadedInventory> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new InventoryError([{ file, line: 1, column: 1, path: '', message: `cannot read inventory: ${reason}` }]);
  }
  const loaded = await parseInventory(text, file, options);
  return { ...loaded, inventory: withLocalPathsFrom(dirname(file), loaded.inventory) };
}

/** Local files named in an inventory (the Calico manifest, offline packages, the air-gap bundle) live beside it. */
function withLocalPathsFrom(dir: string, inv: Inventory): Inventory {
  const local = (p: string | undefined) => (p && !/^https?:\/\//.test(p) ? resolve(dir, expandHome(p)) : p);
  const { cni, packages, airgap } = inv.cluster;
  return {
    ...inv,
    cluster: {
      ...inv.cluster,
      cni: { ...cni, calicoManifest: local(cni.calicoManifest) },
      packages: { ...packages, offlineDir: local(packages.offlineDir) },
      airgap: { ...airgap, bundle: local(airgap.bundle), trustedKeys: airgap.trustedKeys.map((k) => local(k)!) },
    },
  };
}
