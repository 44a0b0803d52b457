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

const certificateBlocks = (pem: string) => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g) ?? [];

/** Whether any certificate of the bundle has a pinned public key. */
export function pinMatches(caCertPem: string, pins: readonly string[]): boolean {
  return pinnedCertificates(caCertPem, pins) !== '';
}

/**
 * Only the certificates of a CA bundle whose public key is pinned: a token holder in the path
 * could add a CA of their own beside the real one, and a node must trust no more than was
 * pinned (audit L2).
 */
export function pinnedCertificates(caCertPem: string, pins: readonly string[]): string {
  const wanted = new Set(pins.map((p) => p.toLowerCase()));
  return certificateBlocks(caCertPem)
    .filter((block) => wanted.has(caPin(block)))
    .map((block) => (block.endsWith('\n') ? block : `${block}\n`))
    .join('');
}
