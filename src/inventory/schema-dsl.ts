/**
 * A small schema language for the inventory. One definition gives three things that must never
 * drift apart: the TypeScript type (via `Infer`), the position-aware reader of YAML nodes, and
 * the JSON Schema / field reference used by editors and docs/inventory.md.
 */
import { isAlias, isMap, isScalar, isSeq, type Node, type Pair } from 'yaml';
import { closest } from '../util/levenshtein.js';
import type { FieldPath } from './issues.js';

export interface FieldDoc {
  readonly description: string;
  readonly example?: unknown;
}

/** What a reader needs to report a problem at a node. */
export interface ReadContext {
  report(node: Node | null | undefined, path: FieldPath, message: string): void;
  /** The line a node starts on, for messages that point at a second place (duplicate keys). */
  lineOf(node: Node | null | undefined): number;
}

/** No string of the inventory is written over several lines or holds control characters: they end up in shell lines, flags and config files. */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
/** A refused value as a message shows it: credentials of a URL masked, long values cut. */
function shownValue(value: string): string {
  const masked = value.replace(/\/\/[^/@\s]*@/, '//***@');
  return JSON.stringify(masked.length > 120 ? `${masked.slice(0, 117)}...` : masked);
}

/** Longer than any real value (paths, URLs, flags); a bound that keeps absurd input out of every renderer. */
const MAX_STRING_LENGTH = 4096;

export type JsonSchema = Record<string, unknown>;

export interface Schema<T> {
  /** Human type name for messages and docs, e.g. `string`, `list of host`. */
  readonly typeName: string;
  readonly doc: FieldDoc;
  /** false when the field may be left out (optional or defaulted). */
  readonly required: boolean;
  readonly defaultValue?: unknown;
  /** Nested fields, for object schemas (used by the docs generator). */
  readonly fields?: Readonly<Record<string, Schema<unknown>>>;
  /** Element schema, for lists and maps (used by the docs generator). */
  readonly element?: Schema<unknown>;
  /** Reads a present node. Returns undefined after reporting when the node is unusable. */
  read(node: Node, path: FieldPath, ctx: ReadContext): T | undefined;
  /** Value for a field that is absent from the document. */
  absent(): T | undefined;
  json(): JsonSchema;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

/** A YAML scalar that is not a string (a number, a boolean, a date) as a message shows it. */
function shownScalar(value: unknown): string {
  return `${typeof value} ${value instanceof Date ? value.toISOString() : JSON.stringify(value)}`;
}

function describe(node: Node): string {
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return 'null';
    if (typeof v === 'string') return `string ${JSON.stringify(v)}`;
    return shownScalar(v);
  }
  return 'an unsupported node';
}

function withDoc(json: JsonSchema, doc: FieldDoc, defaultValue?: unknown): JsonSchema {
  const out: JsonSchema = { ...json, description: doc.description };
  if (defaultValue !== undefined) out.default = defaultValue;
  if (doc.example !== undefined) out.examples = [doc.example];
  return out;
}

/** The node when it is of the expected kind; otherwise reports and returns undefined. */
function nodeOfKind<N extends Node>(
  node: Node,
  path: FieldPath,
  ctx: ReadContext,
  guard: (n: unknown) => n is N,
  expected: string,
): N | undefined {
  if (isAlias(node)) {
    ctx.report(node, path, 'YAML aliases are not supported in inventories; write the value out');
    return undefined;
  }
  if (!guard(node)) {
    ctx.report(node, path, `expected ${expected}, got ${describe(node)}`);
    return undefined;
  }
  return node;
}

function scalar<T>(typeName: string, doc: FieldDoc, json: JsonSchema, accept: (value: unknown) => T | Problem): Schema<T> {
  return {
    typeName,
    doc,
    required: true,
    read(node, path, ctx) {
      const n = nodeOfKind(node, path, ctx, isScalar, typeName);
      if (!n) return undefined;
      const result = accept(n.value);
      if (isProblem(result)) {
        ctx.report(n, path, result.problem);
        return undefined;
      }
      return result;
    },
    absent: () => undefined,
    json: () => withDoc(json, doc),
  };
}

/** A validation failure returned by a scalar check (kept apart from legitimate string values). */
interface Problem {
  readonly problem: string;
}
function problem(message: string): Problem {
  return { problem: message };
}
function isProblem(value: unknown): value is Problem {
  return typeof value === 'object' && value !== null && 'problem' in value;
}

export function string(doc: FieldDoc, check?: { pattern?: RegExp; patternHint?: string; minLength?: number }): Schema<string> {
  const json: JsonSchema = { type: 'string' };
  if (check?.pattern) json.pattern = check.pattern.source;
  if (check?.minLength) json.minLength = check.minLength;
  return scalar<string>('string', doc, json, (value) => {
    if (typeof value !== 'string') {
      const shown = value === null ? 'null' : shownScalar(value);
      return problem(`expected a string, got ${shown}${value === null ? '' : ' (quote the value)'}`);
    }
    if (check?.minLength && value.length < check.minLength) return problem('must not be empty');
    if (CONTROL_CHARACTERS.test(value))
      return problem(
        `holds a newline or another control character (${JSON.stringify(value.match(CONTROL_CHARACTERS)![0])}): write it on one line`,
      );
    if (value.length > MAX_STRING_LENGTH) return problem(`is ${value.length} characters long; at most ${MAX_STRING_LENGTH}`);
    if (check?.pattern && !check.pattern.test(value)) {
      return problem(`${shownValue(value)} is not ${check.patternHint ?? `matching ${check.pattern.source}`}`);
    }
    return value;
  });
}

export function integer(doc: FieldDoc, range: { min?: number; max?: number } = {}): Schema<number> {
  const json: JsonSchema = { type: 'integer' };
  if (range.min !== undefined) json.minimum = range.min;
  if (range.max !== undefined) json.maximum = range.max;
  return scalar<number>('integer', doc, json, (value) => {
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      return problem(`expected an integer, got ${value === null ? 'null' : `${typeof value} ${JSON.stringify(value)}`}`);
    }
    if (range.min !== undefined && value < range.min) return problem(`must be at least ${range.min}, got ${value}`);
    if (range.max !== undefined && value > range.max) return problem(`must be at most ${range.max}, got ${value}`);
    return value;
  });
}

export function boolean(doc: FieldDoc): Schema<boolean> {
  return scalar<boolean>('boolean', doc, { type: 'boolean' }, (value) =>
    typeof value === 'boolean'
      ? value
      : problem(`expected true or false, got ${value === null ? 'null' : `${typeof value} ${JSON.stringify(value)}`}`),
  );
}

export function oneOf<const V extends readonly string[]>(values: V, doc: FieldDoc): Schema<V[number]> {
  return scalar<V[number]>(values.map((v) => `\`${v}\``).join(' \\| '), doc, { type: 'string', enum: [...values] }, (value) => {
    if (typeof value === 'string' && (values as readonly string[]).includes(value)) return value;
    const hint = typeof value === 'string' ? closest(value, values) : undefined;
    return problem(`${JSON.stringify(value)} is not one of ${values.join(', ')}${hint ? ` (did you mean ${hint}?)` : ''}`);
  });
}

export function list<T>(element: Schema<T>, doc: FieldDoc, opts: { minItems?: number } = {}): Schema<T[]> {
  return {
    typeName: `list of ${element.typeName}`,
    doc,
    required: true,
    element: element,
    read(node, path, ctx) {
      const n = nodeOfKind(node, path, ctx, isSeq, 'a list');
      if (!n) return undefined;
      if (opts.minItems && n.items.length < opts.minItems) {
        ctx.report(n, path, `needs at least ${opts.minItems} item${opts.minItems === 1 ? '' : 's'}`);
      }
      const out: T[] = [];
      n.items.forEach((item, i) => {
        const value = element.read(item as Node, [...path, i], ctx);
        if (value !== undefined) out.push(value);
      });
      return out;
    },
    absent: () => undefined,
    json: () => {
      const json: JsonSchema = { type: 'array', items: element.json() };
      if (opts.minItems) json.minItems = opts.minItems;
      return withDoc(json, doc);
    },
  };
}

function keyOf(pair: Pair): string | undefined {
  const key = pair.key as Node | null;
  if (key && isScalar(key) && (typeof key.value === 'string' || typeof key.value === 'number')) return String(key.value);
  return undefined;
}

/** A mapping with free-form keys (labels, extraArgs, registry mirrors). */
export function record<T>(element: Schema<T>, doc: FieldDoc, keyCheck?: { pattern: RegExp; hint: string }): Schema<Record<string, T>> {
  return {
    typeName: `map of ${element.typeName}`,
    doc,
    required: true,
    element: element,
    read(node, path, ctx) {
      const n = nodeOfKind(node, path, ctx, isMap, 'a mapping');
      if (!n) return undefined;
      const out: Record<string, T> = {};
      const first = new Map<string, Node>();
      for (const pair of n.items) {
        const key = keyOf(pair);
        if (key === undefined) {
          ctx.report(pair.key as Node, path, 'keys must be plain strings');
          continue;
        }
        // YAML keeps the last of two equal keys; a reader of the file sees the first
        if (first.has(key)) {
          ctx.report(
            pair.key as Node,
            [...path, key],
            `key ${JSON.stringify(key)} is given twice (first on line ${ctx.lineOf(first.get(key))}): which one is meant?`,
          );
          continue;
        }
        first.set(key, pair.key as Node);
        if (CONTROL_CHARACTERS.test(key) || key.length > MAX_STRING_LENGTH) {
          ctx.report(pair.key as Node, path, `key ${JSON.stringify(key.slice(0, 80))} holds a control character or is too long`);
          continue;
        }
        if (keyCheck && !keyCheck.pattern.test(key)) {
          ctx.report(pair.key as Node, [...path, key], `key ${JSON.stringify(key)} is not ${keyCheck.hint}`);
          continue;
        }
        const value = element.read(pair.value as Node, [...path, key], ctx);
        if (value !== undefined) out[key] = value;
      }
      return out;
    },
    absent: () => undefined,
    json: () => withDoc({ type: 'object', additionalProperties: element.json() }, doc),
  };
}

type ObjectOf<F extends Record<string, Schema<unknown>>> = { [K in keyof F]: Infer<F[K]> };

export function object<F extends Record<string, Schema<unknown>>>(typeName: string, fields: F, doc: FieldDoc): Schema<ObjectOf<F>> {
  const schema: Schema<ObjectOf<F>> = {
    typeName,
    doc,
    required: true,
    fields,
    read(node, path, ctx) {
      const n = nodeOfKind(node, path, ctx, isMap, `a mapping (${typeName})`);
      if (!n) return undefined;
      const seen = new Map<string, Pair>();
      for (const pair of n.items) {
        const key = keyOf(pair);
        if (key === undefined) {
          ctx.report(pair.key as Node, path, 'keys must be plain strings');
          continue;
        }
        if (seen.has(key)) {
          ctx.report(pair.key as Node, [...path, key], `field is given twice (first on line ${ctx.lineOf(seen.get(key)!.key as Node)})`);
          continue;
        }
        seen.set(key, pair);
        if (!(key in fields)) {
          const hint = closest(key, Object.keys(fields));
          ctx.report(pair.key as Node, [...path, key], `unknown field${hint ? ` (did you mean ${hint}?)` : ''}`);
        }
      }
      const out: Record<string, unknown> = {};
      let complete = true;
      for (const [name, field] of Object.entries(fields)) {
        const pair = seen.get(name);
        const valueNode = pair?.value as Node | null | undefined;
        if (!pair || valueNode === null || valueNode === undefined || (isScalar(valueNode) && valueNode.value === null)) {
          if (field.required) {
            ctx.report(pair ? (pair.key as Node) : n, [...path, name], `required field is missing (${field.typeName})`);
            complete = false;
          }
          out[name] = field.absent();
          continue;
        }
        const value = field.read(valueNode, [...path, name], ctx);
        if (value === undefined && field.required) complete = false;
        out[name] = value === undefined ? field.absent() : value;
      }
      return complete ? (out as ObjectOf<F>) : undefined;
    },
    absent: () => undefined,
    json: () => {
      const properties: Record<string, JsonSchema> = {};
      const required: string[] = [];
      for (const [name, field] of Object.entries(fields)) {
        properties[name] = field.json();
        if (field.required) required.push(name);
      }
      const json: JsonSchema = { type: 'object', additionalProperties: false, properties };
      if (required.length) json.required = required;
      return withDoc(json, doc);
    },
  };
  return schema;
}

/** The field may be left out; its value is then undefined. */
export function optional<T>(schema: Schema<T>): Schema<T | undefined> {
  return { ...schema, required: false, absent: () => undefined };
}

/**
 * The field may be left out; its value is then `value`. For objects, an absent section is read
 * as if it were an empty mapping so that nested defaults apply too.
 */
export function withDefault<T>(schema: Schema<T>, value: T): Schema<T> {
  return {
    ...schema,
    required: false,
    defaultValue: value,
    absent: () => structuredClone(value),
    json: () => ({ ...schema.json(), default: value }),
  };
}

/** An object section that may be left out entirely; nested defaults are then applied. */
export function section<F extends Record<string, Schema<unknown>>>(typeName: string, fields: F, doc: FieldDoc): Schema<ObjectOf<F>> {
  const inner = object(typeName, fields, doc);
  const defaults = () => {
    const out: Record<string, unknown> = {};
    for (const [name, field] of Object.entries(fields)) out[name] = field.absent();
    return out as ObjectOf<F>;
  };
  return { ...inner, required: false, absent: defaults };
}
