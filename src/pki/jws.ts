/**
 * The detached JWS that the controller-manager's bootstrapsigner adds to cluster-info
 * (`jws-kubeconfig-<id>`): HS256 with the token secret over the kubeconfig text. kubeadm-spec §5.4.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { BootstrapToken } from './bootstrap-token.js';

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

export function signDetached(payload: string, token: BootstrapToken): string {
  const header = base64url(JSON.stringify({ alg: 'HS256', kid: token.id }));
  const signature = createHmac('sha256', token.secret)
    .update(`${header}.${base64url(payload)}`)
    .digest();
  return `${header}..${base64url(signature)}`;
}

/** True when `jws` is the detached signature of `payload` by this token (kid must be the token id). */
export function verifyDetached(jws: string, payload: string, token: BootstrapToken): boolean {
  const [header, empty, signature] = jws.split('.');
  if (header === undefined || empty !== '' || signature === undefined) return false;
  let parsed: { alg?: string; kid?: string };
  try {
    parsed = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: string; kid?: string };
  } catch {
    return false;
  }
  if (parsed.alg !== 'HS256' || parsed.kid !== token.id) return false;
  const expected = Buffer.from(signDetached(payload, token));
  const actual = Buffer.from(jws);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
