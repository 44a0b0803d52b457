/**
 * Files a phase owns on a host: plan compares the desired content, mode and owner with what is
 * there (one batched read per host), apply writes only the differing files (one batched write).
 */
import { printable, redactShapes } from '../log/redact.js';
import type { FileToWrite, Host } from '../transport/host.js';
import { diffStat, lineDiff } from '../util/line-diff.js';
import { sameYamlDocument } from '../util/yaml-equivalence.js';
import type { Change } from './phase.js';

export interface DesiredFile extends FileToWrite {
  /** Never show the content in plan diffs (keys, kubeconfigs). */
  readonly secret?: boolean;
  /**
   * 'yaml': a file holding the same YAML document is the same file, whatever its layout and
   * empty fields (a static-pod manifest kubeadm wrote: rewriting it only for its layout would
   * restart the pod).
   */
  readonly compare?: 'yaml';
}

function sameContent(file: DesiredFile, have: Buffer, want: Buffer): boolean {
  return have.equals(want) || (file.compare === 'yaml' && sameYamlDocument(have.toString('utf8'), want.toString('utf8')));
}

/** Payload of a file change; phases with other kinds of change put it in their own union. */
export interface FilePayload {
  readonly kind: 'file';
  readonly file: DesiredFile;
}

const mode = (m: number) => `0${m.toString(8)}`;

export async function planFiles(host: Host, desired: readonly DesiredFile[]): Promise<Change<FilePayload>[]> {
  const current = await host.readFiles(desired.map((f) => f.path));
  const changes: Change<FilePayload>[] = [];
  for (const file of desired) {
    const have = current.get(file.path);
    const want = Buffer.from(file.content);
    const owner = file.owner ?? 'root:root';
    if (!have) {
      const detail = file.secret ? '(secret content not shown)' : lineDiff('', want.toString('utf8').replace(/\n$/, ''));
      changes.push({ target: file.path, summary: `create, mode ${mode(file.mode)}`, detail, payload: { kind: 'file', file } });
      continue;
    }
    const parts: string[] = [];
    let detail: string | undefined;
    if (!sameContent(file, have.content, want)) {
      // the current content is the host's: credentials someone put there stay out of the plan
      detail = file.secret
        ? '(secret content not shown)'
        : lineDiff(printable(redactShapes(have.content.toString('utf8').replace(/\n$/, ''))), want.toString('utf8').replace(/\n$/, ''));
      parts.push(file.secret ? 'update content' : `update content (${diffStat(detail)})`);
    }
    if (have.mode !== file.mode) parts.push(`mode ${mode(have.mode)} → ${mode(file.mode)}`);
    if (have.owner !== owner && !(owner === '0:0' && have.owner === 'root:root')) parts.push(`owner ${have.owner} → ${owner}`);
    if (parts.length)
      changes.push({ target: file.path, summary: parts.join(', '), ...(detail ? { detail } : {}), payload: { kind: 'file', file } });
  }
  return changes;
}

/** Writes the files among `changes` (other kinds of change are left to the phase). */
export async function applyFiles(host: Host, changes: readonly Change<{ readonly kind: string }>[]): Promise<void> {
  await host.writeFiles(changes.flatMap((c) => (c.payload.kind === 'file' ? [(c.payload as FilePayload).file] : [])));
}
