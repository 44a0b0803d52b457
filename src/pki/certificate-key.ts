/**
 * upload-certs: the shared control-plane material travels in the kube-system/kubeadm-certs
 * Secret, each file encrypted with AES-256-GCM under a 32-byte certificate key (printed as 64
 * hex characters); stored value = nonce(12) ‖ ciphertext ‖ tag(16). kubeadm-spec §7.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** The files carried, by their data key in the Secret (pki path with / replaced by -). */
export const UPLOADED_FILES: ReadonlyArray<{ readonly key: string; readonly path: string }> = [
  { key: 'ca.crt', path: 'pki/ca.crt' },
  { key: 'ca.key', path: 'pki/ca.key' },
  { key: 'front-proxy-ca.crt', path: 'pki/front-proxy-ca.crt' },
  { key: 'front-proxy-ca.key', path: 'pki/front-proxy-ca.key' },
  { key: 'sa.key', path: 'pki/sa.key' },
  { key: 'sa.pub', path: 'pki/sa.pub' },
  { key: 'etcd-ca.crt', path: 'pki/etcd/ca.crt' },
  { key: 'etcd-ca.key', path: 'pki/etcd/ca.key' },
];

export function generateCertificateKey(): string {
  return randomBytes(32).toString('hex');
}

/** Why the text is not a certificate key; the message never repeats the text (a secret). */
export function validateCertificateKey(certificateKey: string): string | undefined {
  return /^[0-9a-f]{64}$/.test(certificateKey) ? undefined : 'invalid certificate key: expected 64 lower-case hex characters (32 bytes)';
}

function keyBytes(certificateKey: string): Buffer {
  const problem = validateCertificateKey(certificateKey);
  if (problem) throw new Error(problem);
  return Buffer.from(certificateKey, 'hex');
}

export function encrypt(data: Buffer, certificateKey: string): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keyBytes(certificateKey), nonce);
  return Buffer.concat([nonce, cipher.update(data), cipher.final(), cipher.getAuthTag()]);
}

export function decrypt(sealed: Buffer, certificateKey: string): Buffer {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) throw new Error('encrypted data is too short');
  const decipher = createDecipheriv('aes-256-gcm', keyBytes(certificateKey), sealed.subarray(0, NONCE_BYTES));
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new Error('cannot decrypt the uploaded certificates: wrong certificate key (or the kubeadm-certs Secret was altered)');
  }
}

/** Secret data (base64 values) for the files present; absent files are stored empty, as kubeadm does. */
export function sealFiles(files: ReadonlyMap<string, Buffer>, certificateKey: string): Record<string, string> {
  const data: Record<string, string> = {};
  for (const { key, path } of UPLOADED_FILES) {
    const content = files.get(path);
    data[key] = content ? encrypt(content, certificateKey).toString('base64') : '';
  }
  return data;
}

export function openFiles(data: Readonly<Record<string, string>>, certificateKey: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const { key, path } of UPLOADED_FILES) {
    const value = data[key];
    if (value) files.set(path, decrypt(Buffer.from(value, 'base64'), certificateKey));
  }
  return files;
}
