/**
 * Hostile values in every string field of the inventory (the fields are generated from the JSON
 * Schema, not listed by hand): shell metacharacters, quotes, a newline, `../`, NUL and a very long
 * string. Each value goes through `validate`; for each kind of value, every field that accepted
 * it is set at once in one inventory, which is rendered with `render --out` and planned with
 * `plan` against a real lab host over SSH. No marker file may appear on the host or the
 * workstation, and render may write nothing outside --out.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { InventoryError } from '../../src/inventory/issues.js';
import { parseInventory } from '../../src/inventory/load.js';
import { inventoryJsonSchema } from '../../src/inventory/reference.js';
import { runCli, tempDir } from './helpers.js';
import { labInventoryObject } from './inventory.js';
import { startLab, type Lab } from './lab.js';

type Json = {
  type?: string;
  enum?: unknown[];
  properties?: Record<string, Json>;
  additionalProperties?: Json | boolean;
  items?: Json;
  required?: string[];
  examples?: unknown[];
  default?: unknown;
};
/** A path into the inventory: property names, '[]' (the first element) and '{key}' / '{value}' of a map. */
type Path = readonly string[];

const MARKER = '/tmp/ks-hostile';
const PAYLOADS: ReadonlyArray<{ name: string; value: (n: number) => string }> = [
  { name: 'command substitution', value: (n) => `$(touch ${MARKER}-${n})` },
  { name: 'backticks', value: (n) => `\`touch ${MARKER}-${n}\`` },
  { name: 'quotes and semicolon', value: (n) => `x';touch ${MARKER}-${n};'"x` },
  { name: 'newline', value: (n) => `x\ntouch ${MARKER}-${n}` },
  { name: 'path traversal', value: (n) => `../../../../../../tmp/ks-hostile-${n}/x` },
  { name: 'NUL', value: () => 'x\u0000y' },
  { name: 'very long', value: () => 'a'.repeat(20_000) },
];

/** Every string-valued place of the schema. */
function stringPaths(node: Json, path: Path = []): Path[] {
  if (node.type === 'string') return [path];
  if (node.type === 'array' && node.items) return stringPaths(node.items, [...path, '[]']);
  if (node.type !== 'object') return [];
  const props = Object.entries(node.properties ?? {}).flatMap(([k, v]) => stringPaths(v, [...path, k]));
  const map =
    typeof node.additionalProperties === 'object'
      ? [[...path, '{key}'], ...stringPaths(node.additionalProperties, [...path, '{value}'])]
      : [];
  return [...props, ...map];
}

/** A valid value for a schema node, from its examples, default or enum. */
function sample(node: Json): unknown {
  if (node.examples?.length) return node.examples[0];
  if (node.default !== undefined) return node.default;
  if (node.enum?.length) return node.enum.find((e) => e !== '') ?? node.enum[0];
  if (node.type === 'object') return Object.fromEntries((node.required ?? []).map((k) => [k, sample(node.properties![k]!)]));
  if (node.type === 'array') return [sample(node.items!)];
  return node.type === 'string' ? 'x' : node.type === 'boolean' ? false : 1;
}

/** `doc` with `value` placed at `path`, creating what is missing along it from the schema's samples. */
function place(doc: Record<string, unknown>, schema: Json, path: Path, value: string): void {
  let here: Record<string, unknown> | unknown[] = doc;
  let node = schema;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const last = i === path.length - 1;
    if (seg === '[]') {
      const list = here as unknown as unknown[];
      node = node.items!;
      if (last) list.splice(0, list.length, value);
      else {
        if (!list.length) list.push(sample(node));
        here = list[0] as Record<string, unknown>;
      }
    } else if (seg === '{key}') {
      here[value] = sample(node.additionalProperties as Json);
    } else if (seg === '{value}') {
      node = node.additionalProperties as Json;
      const key = 'kubestrap-fuzz';
      if (last) here[key] = value;
      else {
        here[key] ??= node.type === 'array' ? [] : {};
        here = here[key] as Record<string, unknown>;
      }
    } else {
      node = node.properties![seg]!;
      const obj = here;
      if (last) obj[seg] = value;
      else {
        obj[seg] ??=
          node.type === 'array'
            ? []
            : node.type === 'object' && node.properties
              ? Object.fromEntries((node.required ?? []).map((k) => [k, sample(node.properties![k]!)]))
              : {};
        here = obj[seg] as Record<string, unknown>;
      }
    }
  }
}

/**
 * Fields that only reach the SSH client (ssh2, no shell) and decide whether the host can be
 * reached at all: validated and rendered with a hostile value, but left out of the planned
 * inventory, so that the plan gets to every phase.
 */
const CONNECTION = /^(hostDefaults|hosts\.\[\]\.(address|port|user|auth|bastion|hostKey|sudo))/;
/** A file that must exist before any host is reached: a hostile path is refused there (no such bundle), so the combined plan would never reach the host. */
const OPENED_BEFORE_HOSTS = /^cluster\.airgap\.bundle$/;

let lab: Lab;
let schema: Json;
let base: Record<string, unknown>;

beforeAll(async () => {
  lab = await startLab({ hosts: 1, prefix: 'fuzz' });
  schema = inventoryJsonSchema();
  base = labInventoryObject(lab);
}, 120_000);

afterAll(async () => {
  await lab?.stop();
});

const clone = () => structuredClone(base);

async function validates(doc: Record<string, unknown>): Promise<boolean> {
  try {
    await parseInventory(stringify(doc), 'fuzz.yaml', { checkKeyFiles: false });
    return true;
  } catch (err) {
    if (err instanceof InventoryError) return false;
    throw err;
  }
}

describe('hostile values in every string field of the schema', () => {
  it('the schema has the string fields this test is about', () => {
    const paths = stringPaths(schema).map((p) => p.join('.'));
    expect(paths.length).toBeGreaterThan(100);
    expect(paths).toEqual(
      expect.arrayContaining([
        'preparation.sysctl.{key}',
        'cluster.containerRuntime.registryMirrors.{key}',
        'hosts.[].labels.{value}',
        'cluster.apiServer.extraArgs.{value}',
        'cluster.imageRepository',
      ]),
    );
  });

  const acceptedBy = new Map<string, string[]>();

  it.each(PAYLOADS.map((p, i) => ({ ...p, n: i + 1 })))(
    '$name: validate refuses it or it is harmless in render and plan',
    async ({ name, value, n }) => {
      acceptedBy.set(name, await tryPayload(value(n), n));
    },
  );

  it('free-form fields take shell metacharacters (and stay harmless); no field takes a newline, NUL or 20 000 characters', () => {
    expect(acceptedBy.get('command substitution')).toEqual(
      expect.arrayContaining(['cluster.apiServer.extraArgs.{value}', 'cluster.apiServer.extraEnvs.[].value']),
    );
    for (const name of ['newline', 'NUL', 'very long']) expect(acceptedBy.get(name), name).toEqual([]);
    // the audit's injection points now refuse the value outright
    for (const field of ['preparation.sysctl.{key}', 'cluster.containerRuntime.registryMirrors.{key}']) {
      for (const [name, fields] of acceptedBy) expect(fields, `${name}: ${field}`).not.toContain(field);
    }
  });
});

/** Puts one hostile value through validate, render and plan; returns the fields that accepted it. */
async function tryPayload(hostile: string, n: number): Promise<string[]> {
  const paths = stringPaths(schema);
  const accepted: Path[] = [];
  for (const path of paths) {
    const doc = clone();
    place(doc, schema, path, hostile);
    if (await validates(doc)) accepted.push(path);
  }
  // one inventory with every field that took the value (as long as they validate together)
  const combined = clone();
  for (const path of accepted.filter((p) => !CONNECTION.test(p.join('.')) && !OPENED_BEFORE_HOSTS.test(p.join('.')))) {
    const next = structuredClone(combined);
    place(next, schema, path, hostile);
    if (await validates(next)) Object.assign(combined, next);
  }
  const dir = tempDir(`fuzz-${n}`);
  const file = join(dir, 'inventory.yaml');
  writeFileSync(file, stringify(combined));
  mkdirSync(join(dir, 'out'));
  const render = await runCli(['render', '-i', file, '--out', join(dir, 'out')]);
  const plan = await runCli(['plan', '-i', file, '--output', 'plain']);
  // nothing ran on the host or here, and nothing escaped --out
  expect(
    lab.inside(lab.hosts[0]!, `ls -d ${MARKER}* 2>/dev/null || true`).trim(),
    `host, fields: ${accepted.map((p) => p.join('.')).join(', ')}`,
  ).toBe('');
  expect(
    readdirSync('/tmp').filter((f) => f.startsWith('ks-hostile')),
    'workstation',
  ).toEqual([]);
  expect(readdirSync(dir).sort(), 'render wrote beside --out').toEqual(['inventory.yaml', 'out']);
  expect(existsSync(`${MARKER}-${n}`)).toBe(false);
  expect(render.code === 0 || /error/.test(render.stderr), render.stderr).toBe(true);
  expect(plan.stdout + plan.stderr).not.toMatch(/Traceback|TypeError|RangeError|at [\w.]+ \(/);
  // the plan went through the host's phases (it reached the host, and the fields reached the phases)
  expect(plan.stdout, plan.stderr).toMatch(/sysctl/);
  return accepted.map((p) => p.join('.'));
}
