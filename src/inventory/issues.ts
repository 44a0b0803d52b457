/** One problem found in an inventory file, located precisely enough for an editor to jump to it. */
export interface InventoryIssue {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** Field path such as `hosts[1].address`; empty for the document itself. */
  readonly path: string;
  readonly message: string;
}

export function formatIssue(issue: InventoryIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.column}`;
  return issue.path ? `${where}: ${issue.path}: ${issue.message}` : `${where}: ${issue.message}`;
}

/** Thrown when an inventory has problems; carries every problem, not just the first. */
export class InventoryError extends Error {
  constructor(readonly issues: readonly InventoryIssue[]) {
    super(
      `inventory has ${issues.length} problem${issues.length === 1 ? '' : 's'}:\n` + issues.map((i) => `  ${formatIssue(i)}`).join('\n'),
    );
    this.name = 'InventoryError';
  }
}

export type FieldPath = ReadonlyArray<string | number>;

export function formatPath(path: FieldPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${part}` : part;
  }
  return out;
}
