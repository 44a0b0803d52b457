/** Text shown after a run: the plan per host, and the per-host summary with the failures. */
import type { WorkflowResult } from './engine.js';

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The changes (planned or applied) and warnings per host; hosts with identical ones (common with many workers) are listed once. */
export function formatPlan(result: WorkflowResult, showDiff: boolean): string {
  const groups = new Map<string, { hosts: string[]; lines: string[] }>();
  for (const outcome of result.outcomes) {
    if (outcome.changes.length === 0 && outcome.warnings.length === 0) continue;
    const lines: string[] = [];
    for (const { phase, change } of outcome.changes) {
      lines.push(`  ~ [${phase}] ${change.target}: ${change.summary}`);
      if (showDiff && change.detail) lines.push(...change.detail.split('\n').map((l) => `      ${l}`));
    }
    for (const w of outcome.warnings) lines.push(`  ! [${w.phase}] ${w.message}`);
    const key = lines.join('\n');
    const group = groups.get(key) ?? { hosts: [], lines };
    group.hosts.push(outcome.name);
    groups.set(key, group);
  }
  const out: string[] = [];
  for (const { hosts, lines } of groups.values())
    out.push(`${hosts.join(', ')}${hosts.length > 1 ? ` (${hosts.length} hosts)` : ''}:`, ...lines);
  const total = result.outcomes.reduce((n, o) => n + o.changes.length, 0);
  const hostsWithChanges = result.outcomes.filter((o) => o.changes.length).length;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (result.mode === 'plan')
    out.push(
      total === 0
        ? 'Plan: no changes. The hosts are in the desired state.'
        : `Plan: ${plural(total, 'change')} on ${plural(hostsWithChanges, 'host')}.`,
    );
  else
    out.push(
      total === 0 ? 'Applied: no changes were needed.' : `Applied: ${plural(total, 'change')} on ${plural(hostsWithChanges, 'host')}.`,
    );
  return out.join('\n');
}

export function formatSummary(result: WorkflowResult): string {
  const verb = result.mode === 'apply' ? 'CHANGED' : 'PLANNED';
  const rows = [['HOST', 'STATUS', verb, 'WARNINGS', 'DETAIL']];
  for (const o of result.outcomes) {
    const detail = o.status === 'ok' ? '' : `${o.failedPhase}: ${(o.error ?? '').split('\n')[0]}`;
    rows.push([o.name, o.status, String(o.changes.length), String(o.warnings.length), detail]);
  }
  const failed = result.outcomes.filter((o) => o.status !== 'ok');
  const head = `${result.mode} finished in ${(result.elapsedMs / 1000).toFixed(1)} s: ${result.outcomes.length - failed.length} of ${result.outcomes.length} hosts ok`;
  const details = failed.map(
    (o) =>
      `\n${o.name} (${o.status} in ${o.failedPhase}):\n${(o.error ?? '')
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n')}`,
  );
  return [head, table(rows), ...details].join('\n');
}

/** The machine-readable result (`--report FILE`), for automation around kubestrap. */
export function reportJson(result: WorkflowResult) {
  return {
    mode: result.mode,
    ok: result.ok,
    elapsedMs: result.elapsedMs,
    hosts: result.outcomes.map((o) => ({
      name: o.name,
      status: o.status,
      ...(o.failedPhase ? { failedPhase: o.failedPhase, error: o.error } : {}),
      changes: o.changes.map(({ phase, change }) => ({ phase, target: change.target, summary: change.summary })),
      warnings: o.warnings,
    })),
    preflight: result.preflight,
    // where the time went: each stage (connect, read, every phase) as a whole and per host
    timings: result.timings,
  };
}
