/**
 * The checksum kubeadm records for component-config ConfigMaps: SHA-256 over the values of
 * `data` then `binaryData`, each in key order. kubeadm-spec §12 vectors 8–10.
 */
import { createHash } from 'node:crypto';

export function configMapChecksum(data: Readonly<Record<string, string>>, binaryData: Readonly<Record<string, Buffer>> = {}): string {
  const hash = createHash('sha256');
  for (const key of Object.keys(data).sort()) hash.update(data[key]!);
  for (const key of Object.keys(binaryData).sort()) hash.update(binaryData[key]!);
  return `sha256:${hash.digest('hex')}`;
}
