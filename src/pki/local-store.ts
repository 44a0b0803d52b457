/**
 * The workstation copy of each node's /etc/kubernetes: OUT/<node>/etc/kubernetes/... with
 * kubeadm's file modes (certificates 0644; keys, sa.pub and kubeconfigs 0600; dirs 0755).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { writeLocalFile } from '../util/local-file.js';
import { dirname, join, relative } from 'node:path';
import type { FileSet, PkiFile } from './cluster-pki.js';

export const nodeRoot = (out: string, node: string) => join(out, node, 'etc', 'kubernetes');

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? walk(full) : [full];
  });
}

export function readNodeFiles(out: string, node: string): FileSet {
  const root = nodeRoot(out, node);
  return new Map(walk(root).map((f) => [relative(root, f), readFileSync(f, 'utf8')]));
}

export function writeNodeFiles(out: string, node: string, files: readonly PkiFile[]): void {
  const root = nodeRoot(out, node);
  for (const file of files) {
    const target = join(root, file.path);
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    writeLocalFile(target, file.content, file.mode);
  }
}
