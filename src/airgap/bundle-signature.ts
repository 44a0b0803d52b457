/**
 * Bundles signed with Ed25519 through Node's crypto. The signature covers bundle.json's exact
 * bytes, and bundle.json binds every other entry by its sha256: a valid signature by a trusted
 * key vouches for the whole bundle. Keys are PEM files as `openssl genpkey -algorithm ed25519`
 * (or `kubestrap bundle keygen`) writes them: PKCS#8 private, SPKI public.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { formatIssue } from '../inventory/issues.js';
import { readDocument } from '../inventory/read-document.js';
import { object, oneOf, string, type Schema } from '../inventory/schema-dsl.js';
import { BUNDLE_SIGNATURE } from '../kit/bundle.js';

export const SIGNATURE_FORMAT = 'kubestrap.dev/bundle-signature/v1';

export interface BundleSignature {
  readonly format: typeof SIGNATURE_FORMAT;
  readonly algorithm: 'ed25519';
  /** Which key signed: sha256 of its public key (SPKI DER), as `keyId` prints it. */
  readonly keyId: string;
  /** base64 of the 64-byte Ed25519 signature of bundle.json. */
  readonly signature: string;
}

const KEY_ID = /^sha256:[0-9a-f]{64}$/;

const signatureSchema: Schema<BundleSignature> = object(
  'bundle signature',
  {
    format: oneOf([SIGNATURE_FORMAT] as const, { description: 'Format.' }),
    algorithm: oneOf(['ed25519'] as const, { description: 'Signature algorithm.' }),
    keyId: string({ description: 'The signing key.' }, { pattern: KEY_ID, patternHint: 'sha256:<64 hex> of the public key' }),
    signature: string({ description: 'The signature.' }, { pattern: /^[A-Za-z0-9+/]{86}==$/, patternHint: 'base64 of 64 bytes' }),
  },
  { description: 'The signature of bundle.json.' },
);

export class BundleKeyError extends Error {}

/** sha256:<hex> of the public key's SPKI DER (of a private key: of its public half): what a signature names and `bundle verify` prints. */
export function keyId(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return `sha256:${createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')}`;
}

function readKeyFile(file: string, what: string, parse: (pem: Buffer) => KeyObject): KeyObject {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (err) {
    throw new BundleKeyError(`${what} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let key: KeyObject;
  try {
    key = parse(pem);
  } catch {
    throw new BundleKeyError(
      `${what} ${file}: not a PEM key (expected an Ed25519 key as openssl genpkey -algorithm ed25519 or kubestrap bundle keygen writes it)`,
    );
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new BundleKeyError(`${what} ${file}: an ${key.asymmetricKeyType ?? 'unknown'} key; bundles are signed with Ed25519 keys`);
  return key;
}

/** The private key of `bundle create --sign-key`. */
export const readSigningKey = (file: string) => readKeyFile(file, 'signing key', (pem) => createPrivateKey(pem));

/** A public key a site trusts (`bundle verify --trusted-key`, `cluster.airgap.trustedKeys`); a private key file is refused, so it is never copied around as a "trusted key". */
export function readTrustedKey(file: string, what = 'trusted key'): KeyObject {
  return readKeyFile(file, what, (pem) => {
    if (/PRIVATE KEY/.test(pem.toString('latin1'))) throw new Error('private');
    return createPublicKey(pem);
  });
}

/** A new signing key pair, PEM: the private half stays with whoever builds bundles. */
export function generateSigningKey(): { privatePem: string; publicPem: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyId(publicKey),
  };
}

/** The text of the bundle.sig entry for bundle.json's bytes. */
export function signatureEntry(manifestBytes: Buffer, privateKey: KeyObject): string {
  const signature: BundleSignature = {
    format: SIGNATURE_FORMAT,
    algorithm: 'ed25519',
    keyId: keyId(privateKey),
    signature: sign(null, manifestBytes, privateKey).toString('base64'),
  };
  return `${JSON.stringify(signature, null, 2)}\n`;
}

function parseSignature(text: string, file: string): BundleSignature {
  const where = `${file}:${BUNDLE_SIGNATURE}`;
  const { value, issues } = readDocument(text, where, signatureSchema, { maxBytes: 64 << 10, tooLarge: 'not a signature kubestrap wrote' });
  if (issues.length || !value) throw new BundleKeyError(`${where} is not a bundle signature: ${issues.map(formatIssue).join('; ')}`);
  return value;
}

/** The key a bundle.sig names, unverified (verifying needs that key): for `bundle verify` without --trusted-key. */
export function namedSigner(file: string, signatureText: string): string {
  return parseSignature(signatureText, file).keyId;
}

export interface TrustedKey {
  readonly file: string;
  readonly key: KeyObject;
}

/**
 * Whether bundle.json's bytes carry a valid signature by one of `trusted`: the key id that
 * signed, or the reason it is refused (unsigned, signed by a key not trusted, or a signature
 * that does not match the bytes, i.e. an altered bundle.json).
 */
export function checkSignature(
  file: string,
  manifestBytes: Buffer,
  signatureText: string | undefined,
  trusted: readonly TrustedKey[],
): { keyId: string } | { refused: string } {
  if (signatureText === undefined) return { refused: `${file} is not signed (bundle create --sign-key signs it)` };
  let signature: BundleSignature;
  try {
    signature = parseSignature(signatureText, file);
  } catch (err) {
    return { refused: (err as Error).message };
  }
  const signer = trusted.find((t) => keyId(t.key) === signature.keyId);
  if (!signer)
    return {
      refused: `${file} is signed by key ${signature.keyId}, which is not trusted (trusted: ${trusted.map((t) => `${t.file} ${keyId(t.key)}`).join(', ') || 'none'})`,
    };
  if (!verify(null, manifestBytes, signer.key, Buffer.from(signature.signature, 'base64'))) {
    return {
      refused: `${file}: bundle.json does not match its signature by ${signer.file} (${signature.keyId}): it was changed after it was signed`,
    };
  }
  return { keyId: signature.keyId };
}
