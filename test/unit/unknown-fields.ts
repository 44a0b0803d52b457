/**
 * Unknown-field check against the Kubernetes types of kubernetes-models (4.5: 5.x needs Node 22): its validators
 * accept fields they do not know, so this walks an object along the TypeScript declarations the
 * package ships (one interface per .d.ts file, property types linked by imports) and lists every
 * field no declaration names.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

interface Declared {
  /** property → the declaration file of its (element or map value) type, when it is an object type */
  readonly props: Map<string, string | undefined>;
}

const cache = new Map<string, Declared>();

function resolveImport(from: string, spec: string): string {
  // kubernetes-models 5 imports with the .js suffix of ESM, 4 without
  if (spec.startsWith('.')) return `${join(dirname(from), spec.replace(/\.js$/, ''))}.d.ts`;
  const segments = spec.split('/');
  const name = segments.slice(0, spec.startsWith('@') ? 2 : 1).join('/');
  const root = dirname(require.resolve(`${name}/package.json`, { paths: [dirname(from)] }));
  return `${join(root, ...segments.slice(name.split('/').length))}.d.ts`;
}

function declared(file: string): Declared {
  const hit = cache.get(file);
  if (hit) return hit;
  const text = readFileSync(file, 'utf8');
  const imports = new Map<string, string>();
  for (const m of text.matchAll(/import \{ (\w+) \} from "([^"]+)";/g)) imports.set(m[1]!, resolveImport(file, m[2]!));
  const body = /export interface \w+(?: extends [^{]+)? \{([\s\S]*?)\n\}/.exec(text)?.[1] ?? '';
  const props = new Map<string, string | undefined>();
  for (const m of body.matchAll(/^ {4}"([^"]+)"\??: ([^\n]+)$/gm)) {
    const ref = [...m[2]!.matchAll(/\b(I\w+)\b/g)].map((r) => imports.get(r[1]!)).find(Boolean);
    props.set(m[1]!, ref);
  }
  const result = { props };
  cache.set(file, result);
  return result;
}

/** The declaration file of a top-level kind, e.g. apps/v1 Deployment. */
export function kindDeclaration(apiVersion: string, kind: string): string {
  const file = join(dirname(require.resolve('kubernetes-models/package.json')), apiVersion, `${kind}.d.ts`);
  if (!existsSync(file)) throw new Error(`no kubernetes-models type for ${apiVersion} ${kind}`);
  return file;
}

export function unknownFields(value: unknown, file: string, path = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => unknownFields(v, file, `${path}[${i}]`));
  if (!value || typeof value !== 'object') return [];
  const { props } = declared(file);
  if (props.size === 0) return [];
  return Object.entries(value).flatMap(([key, v]) => {
    if (!props.has(key)) return [`${path}.${key}`];
    const ref = props.get(key);
    if (!ref) return [];
    // map-typed fields ({ [key: string]: IType }) hold their values one level down
    const mapped =
      declared(ref).props.size > 0 &&
      v &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      Object.keys(v).every((k) => !declared(ref).props.has(k))
        ? Object.values(v)
        : v;
    return unknownFields(mapped, ref, `${path}.${key}`);
  });
}
