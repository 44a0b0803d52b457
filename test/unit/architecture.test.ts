/**
 * The layer table of docs/architecture.md, held: the import graph of src/, phases/ and
 * templates/ (every import and export-from, types included, as TypeScript's own pre-processor
 * reads them) has no cycle between folders, and each folder imports only the layers its row
 * allows. The table is read from the page itself, so the page and the code cannot drift apart.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, test } from 'vitest';

const ROOTS = ['src', 'phases', 'templates'];

interface Layer {
  readonly name: string;
  readonly folders: readonly string[];
  /** Layer names, or 'all'. */
  readonly mayImport: readonly string[];
}

/** The rows of the page's layer table: | layer | folder | owns | may import |. */
function layerTable(): Layer[] {
  const page = readFileSync('docs/architecture.md', 'utf8');
  const table = page.slice(page.indexOf('| layer | folder |'));
  const rows = table
    .split('\n')
    .slice(2)
    .filter((l) => l.startsWith('|'));
  return rows.map((row) => {
    const [name, folders, , may] = row
      .split('|')
      .slice(1, 5)
      .map((c) => c.trim());
    return {
      name: name!,
      folders: [...folders!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\/$/, '')),
      mayImport: may === '—' ? [] : may!.split(',').map((s) => s.trim().replace(/ \(.*\)$/, '')),
    };
  });
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** src/<folder>, or phases, or templates. */
const folderOf = (file: string) => (file.startsWith('src/') ? file.split('/').slice(0, 2).join('/') : file.split('/')[0]!);

/** Every import between two folders: [from file, to file]. */
function importEdges(): Array<[string, string]> {
  const edges: Array<[string, string]> = [];
  for (const file of ROOTS.flatMap(sources)) {
    for (const { fileName } of ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = normalize(join(dirname(file), fileName)).replace(/\.js$/, '.ts');
      if (folderOf(target) !== folderOf(file)) edges.push([file, relative('.', target)]);
    }
  }
  return edges;
}

/** Folders on a cycle of the folder graph (Tarjan's strongly connected components of more than one folder). */
function folderCycles(edges: ReadonlyArray<[string, string]>): string[][] {
  const graph = new Map<string, Set<string>>();
  for (const [a, b] of edges) (graph.get(folderOf(a)) ?? graph.set(folderOf(a), new Set()).get(folderOf(a))!).add(folderOf(b));
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (let w = stack.pop()!; ; w = stack.pop()!) {
      component.push(w);
      if (w === v) break;
    }
    if (component.length > 1) cycles.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

describe('the layers of docs/architecture.md', () => {
  const layers = layerTable();
  const edges = importEdges();
  const layerOf = (folder: string) => layers.find((l) => l.folders.includes(folder));

  test('the table names every folder of src/, and phases/ and templates/', () => {
    const folders = [...new Set(ROOTS.flatMap(sources).map(folderOf))];
    expect(folders.filter((f) => !layerOf(f))).toEqual([]);
  });

  test('no cycle between folders', () => {
    expect(folderCycles(edges)).toEqual([]);
  });

  test('each folder imports only the layers its row allows', () => {
    const wrong = edges.filter(([from, to]) => {
      const [a, b] = [layerOf(folderOf(from))!, layerOf(folderOf(to))!];
      return !a.mayImport.includes('all') && !a.mayImport.includes(b.name);
    });
    expect(
      wrong.map(([from, to]) => `${from} → ${to} (${layerOf(folderOf(from))!.name} may not import ${layerOf(folderOf(to))!.name})`),
    ).toEqual([]);
  });
});
