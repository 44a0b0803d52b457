/** Reads an inventory file with source positions, so every problem can name file:line:column. */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { expandHome } from '../util/paths.js';
import { LineCounter, parseAllDocuments, isNode, type Document, type Node } from 'yaml';
import { formatPath, InventoryError, type FieldPath, type InventoryIssue } from './issues.js';
import { inventorySchema, type Inventory } from './schema.js';
import { MAX_HOSTS, validateInventory, type ValidateOptions } from './validate.js';

export interface LoadedInventory {
  readonly file: string;
  readonly inventory: Inventory;
  /** Where a field (or its nearest present ancestor) stands in the file. */
  locate(path: FieldPath): { line: number; column: number };
}

const MAX_INVENTORY_BYTES = 8 << 20;

function positionOf(lineCounter: LineCounter, node: Node | null | undefined): { line: number; column: number } {
  const offset = node?.range?.[0] ?? 0;
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

function locator(doc: Document, lineCounter: LineCounter) {
  return (path: FieldPath) => {
    for (let depth = path.length; depth >= 0; depth--) {
      const node = doc.getIn(path.slice(0, depth), true);
      if (isNode(node)) return positionOf(lineCounter, node);
    }
    return { line: 1, column: 1 };
  };
}

/** Parses and validates inventory text; throws InventoryError listing every problem. */
export async function parseInventory(text: string, file: string, options: ValidateOptions = {}): Promise<LoadedInventory> {
  // a bound before the YAML parser holds ~190× the text in memory
  if (text.length > MAX_INVENTORY_BYTES) throw new InventoryError([{ file, line: 1, column: 1, path: '', message: `the file is larger than ${MAX_INVENTORY_BYTES / (1 << 20)} MiB; an inventory of ${MAX_HOSTS} hosts is far smaller` }]);
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const issues: InventoryIssue[] = [];
  const docList = Array.isArray(docs) ? docs : [];
  if (docList.length !== 1) {
    const { line, col } = lineCounter.linePos(docList[1]?.range?.[0] ?? 0);
    throw new InventoryError([{ file, line, column: col, path: '', message: docList.length === 0 ? 'the file is empty' : 'expected exactly one YAML document' }]);
  }
  const doc = docList[0]!;
  for (const err of [...doc.errors]) {
    const { line, col } = lineCounter.linePos(err.pos[0]);
    issues.push({ file, line, column: col, path: '', message: `YAML syntax: ${err.message.split('\n')[0]}` });
  }
  if (issues.length) throw new InventoryError(issues);

  const report = (node: Node | null | undefined, path: FieldPath, message: string) => {
    const { line, column } = positionOf(lineCounter, node);
    issues.push({ file, line, column, path: formatPath(path), message });
  };
  const root = doc.contents;
  const lineOf = (node: Node | null | undefined) => positionOf(lineCounter, node).line;
  const inventory = root ? inventorySchema.read(root as Node, [], { report, lineOf }) : undefined;
  if (!root) report(undefined, [], 'the file is empty');
  const locate = locator(doc, lineCounter);
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
    cluster: { ...inv.cluster, cni: { ...cni, calicoManifest: local(cni.calicoManifest) }, packages: { ...packages, offlineDir: local(packages.offlineDir) }, airgap: { ...airgap, bundle: local(airgap.bundle) } },
  };
}
