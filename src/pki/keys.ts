/**
 * Private keys. Generation uses Node's native crypto (OpenSSL) asynchronously, on the libuv
 * thread pool, so independent keys are generated in parallel; node-forge's pure-JS keygen
 * would take seconds per key.
 */
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';

export type KeyAlgorithm = 'RSA-2048' | 'RSA-3072' | 'RSA-4096';

export interface KeyPair {
  /** PKCS#1 `RSA PRIVATE KEY` PEM, as kubeadm writes it. */
  readonly privateKeyPem: string;
  /** PKIX `PUBLIC KEY` PEM. */
  readonly publicKeyPem: string;
  readonly privateKey: KeyObject;
}

const BITS: Record<KeyAlgorithm, number> = { 'RSA-2048': 2048, 'RSA-3072': 3072, 'RSA-4096': 4096 };

export function generateKey(algorithm: KeyAlgorithm): Promise<KeyPair> {
  return new Promise((resolve, reject) => {
    generateKeyPair('rsa', { modulusLength: BITS[algorithm], publicExponent: 65537 }, (err, publicKey, privateKey) => {
      if (err) {
        reject(err);
        return;
      }
      resolve({
        privateKeyPem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
        publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        privateKey,
      });
    });
  });
}

/** Loads a PEM private key (PKCS#1 or PKCS#8) written by kubestrap, kubeadm or openssl. */
export function keyPairFromPem(pem: string): KeyPair {
  const privateKey = createPrivateKey(pem);
  return {
    privateKeyPem: pem,
    publicKeyPem: createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString(),
    privateKey,
  };
}

export function rsaBits(key: KeyObject): number {
  return key.asymmetricKeyDetails?.modulusLength ?? 0;
}
