/**
 * One YAML (or JSON) document read through a schema with source positions, so every problem
 * names file:line:column and the field: the inventory, and bundle.json from an air-gap bundle.
 */
import { isNode, LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';
import { formatPath, type FieldPath, type InventoryIssue } from './issues.js';
import type { Schema } from './schema-dsl.js';

export interface ReadDocument<T> {
  /** Undefined when the document is unusable (its problems are in `issues`). */
  readonly value: T | undefined;
  readonly issues: InventoryIssue[];
  /** Where a field (or its nearest present ancestor) stands in the file. */
  readonly locate: (path: FieldPath) => { line: number; column: number };
}

function positionOf(lineCounter: LineCounter, node: Node | null | undefined): { line: number; column: number } {
  const { line, col } = lineCounter.linePos(node?.range?.[0] ?? 0);
  return { line, column: col };
}

function locator(doc: Document | undefined, lineCounter: LineCounter) {
  return (path: FieldPath) => {
    for (let depth = path.length; doc && depth >= 0; depth--) {
      const node = doc.getIn(path.slice(0, depth), true);
      if (isNode(node)) return positionOf(lineCounter, node);
    }
    return { line: 1, column: 1 };
  };
}

/**
 * Reads `text` as exactly one document of `schema`. `maxBytes` bounds the text before the YAML
 * parser, which holds ~190× the text in memory.
 */
export function readDocument<T>(
  text: string,
  file: string,
  schema: Schema<T>,
  limits: { maxBytes: number; tooLarge: string },
): ReadDocument<T> {
  const issues: InventoryIssue[] = [];
  const lineCounter = new LineCounter();
  const at = (offset: number, message: string) => {
    const { line, col } = lineCounter.linePos(offset);
    issues.push({ file, line, column: col, path: '', message });
  };
  if (text.length > limits.maxBytes) {
    issues.push({
      file,
      line: 1,
      column: 1,
      path: '',
      message: `the file is larger than ${limits.maxBytes / (1 << 20)} MiB; ${limits.tooLarge}`,
    });
    return { value: undefined, issues, locate: () => ({ line: 1, column: 1 }) };
  }
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const docList = Array.isArray(docs) ? docs : [];
  if (docList.length !== 1) {
    at(docList[1]?.range?.[0] ?? 0, docList.length === 0 ? 'the file is empty' : 'expected exactly one YAML document');
    return { value: undefined, issues, locate: () => ({ line: 1, column: 1 }) };
  }
  const doc = docList[0]!;
  for (const err of doc.errors) at(err.pos[0], `YAML syntax: ${err.message.split('\n')[0]}`);
  const locate = locator(doc, lineCounter);
  if (issues.length) return { value: undefined, issues, locate };
  const report = (node: Node | null | undefined, path: FieldPath, message: string) => {
    const { line, column } = positionOf(lineCounter, node);
    issues.push({ file, line, column, path: formatPath(path), message });
  };
  const lineOf = (node: Node | null | undefined) => positionOf(lineCounter, node).line;
  const root = doc.contents as Node | null;
  if (!root) report(undefined, [], 'the file is empty');
  const value = root ? schema.read(root, [], { report, lineOf }) : undefined;
  return { value, issues, locate };
}
