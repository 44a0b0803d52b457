/**
 * Whether two YAML texts say the same thing to the Go programs that read them: the same
 * document once Go's zero values are left out (null, {}, [], "" and 0s durations). kubeadm
 * serializes its structs with every empty field (`creationTimestamp: null`, `cacheTTL: 0s`,
 * `logging: {}`); kubestrap leaves them out; the kubelet, kube-proxy and the API server
 * default both the same way.
 */
import { isDeepStrictEqual } from 'node:util';
import { parse } from 'yaml';

function withoutZeroValues(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutZeroValues);
  if (value === null || typeof value !== 'object') return value;
  const kept = Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => [k, withoutZeroValues(v)] as const)
    .filter(([, v]) => !isZero(v));
  return Object.fromEntries(kept);
}

function isZero(v: unknown): boolean {
  if (v === null || v === undefined || v === '' || v === '0s') return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && Object.keys(v).length === 0;
}

/** Parsed documents, or undefined when the text is not one YAML mapping. */
function mapping(text: string): unknown {
  try {
    const doc = parse(text) as unknown;
    return doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? doc : undefined;
  } catch {
    return undefined;
  }
}

export function sameYamlDocument(a: string, b: string): boolean {
  if (a === b) return true;
  const [x, y] = [mapping(a), mapping(b)];
  return x !== undefined && y !== undefined && isDeepStrictEqual(withoutZeroValues(x), withoutZeroValues(y));
}
