/**
 * The e2e lab's add-on binaries: real CoreDNS, metrics-server, flanneld, the flannel CNI plugin,
 * agnhost, crictl and kube-vip, built from their upstream sources outside this repository (their
 * PROVENANCE.md says how). Test infrastructure like the lab's Kubernetes binaries: packed into
 * lab images and the lab's cri-tools package, never into the product. They are looked for in
 * $KUBESTRAP_LAB_ADDONS, else ../shared/lab-addons beside the checkout.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { CHECKOUT } from './scripts.js';

const CACHE = process.env.KUBESTRAP_LAB_CACHE ?? '/var/cache/kubestrap-lab';

/** The binaries the lab uses, as the directory names them (each NAME.xz, its checksum in SHA256SUMS). */
export const LAB_ADDON_BINARIES = [
  'coredns-1.8.0',
  'metrics-server-v0.9.0',
  'flanneld-v0.28.9',
  'flannel-cni-plugin-v1.9.1-flannel1',
  'agnhost-2.25',
  'crictl-v1.36.0',
  'kube-vip-v1.2.3',
] as const;
export type LabAddonBinary = (typeof LAB_ADDON_BINARIES)[number];

/** The directory holding them; an error saying exactly what is needed and where it was looked for when it lacks any. */
export function labAddonsDir(): string {
  const dir = process.env.KUBESTRAP_LAB_ADDONS ?? join(CHECKOUT, '..', 'shared', 'lab-addons');
  const missing = ['SHA256SUMS', ...LAB_ADDON_BINARIES.map((b) => `${b}.xz`)].filter((f) => !existsSync(join(dir, f)));
  if (missing.length) {
    throw new Error(
      `the e2e lab needs the add-on binaries built from their upstream sources (${LAB_ADDON_BINARIES.join(', ')}, each as NAME.xz, with SHA256SUMS of the decompressed files) ` +
        `in ${dir}; missing: ${missing.join(', ')}. Set KUBESTRAP_LAB_ADDONS to the directory that holds them.`,
    );
  }
  return dir;
}

/** One binary, decompressed once into the lab cache and checked against SHA256SUMS; its path. */
export function labAddonBinary(name: LabAddonBinary): string {
  const dir = labAddonsDir();
  const sum = readFileSync(join(dir, 'SHA256SUMS'), 'utf8')
    .split('\n')
    .find((l) => l.endsWith(`  ${name}`))
    ?.split(' ')[0];
  if (!sum) throw new Error(`${join(dir, 'SHA256SUMS')} has no checksum for ${name}`);
  const out = join(CACHE, 'lab-addons', sum, name);
  if (existsSync(out)) return out;
  mkdirSync(join(out, '..'), { recursive: true });
  const partial = `${out}.partial`;
  execFileSync('sh', ['-c', 'xz -dc "$1" > "$2" && chmod 755 "$2"', 'sh', join(dir, `${name}.xz`), partial]);
  const actual = execFileSync('sha256sum', [partial], { encoding: 'utf8' }).split(' ')[0];
  if (actual !== sum) throw new Error(`${join(dir, `${name}.xz`)} decompresses to sha256 ${actual}, not ${sum} (SHA256SUMS)`);
  renameSync(partial, out);
  return out;
}
