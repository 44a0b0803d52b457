/** The CA public-key pin used by token discovery: sha256 over the CA's DER SubjectPublicKeyInfo. */
import { createHash, X509Certificate } from 'node:crypto';

const PIN = /^sha256:[0-9a-f]{64}$/;

export function caPin(caCertPem: string): string {
  const spki = new X509Certificate(caCertPem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

export function validatePin(pin: string): string | undefined {
  if (PIN.test(pin)) return undefined;
  return `invalid CA hash ${JSON.stringify(pin)}: expected sha256:<64 lower-case hex characters> (only sha256 is supported)`;
}

export function pinMatches(caCertPem: string, pins: readonly string[]): boolean {
  const actual = caPin(caCertPem);
  return pins.some((p) => p.toLowerCase() === actual);
}
