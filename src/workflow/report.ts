/** Text shown after a run: the plan per host, and the per-host summary with the failures. */
import type { WorkflowResult } from './runner.js';

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd()).join('\n');
}

export function formatPlan(result: WorkflowResult, showDiff: boolean): string {
  const lines: string[] = [];
  for (const outcome of result.outcomes) {
    if (outcome.changes.length === 0 && outcome.warnings.length === 0) continue;
    lines.push(`${outcome.name}:`);
    for (const { phase, change } of outcome.changes) {
      lines.push(`  ~ [${phase}] ${change.target}: ${change.summary}`);
      if (showDiff && change.detail) lines.push(...change.detail.split('\n').map((l) => `      ${l}`));
    }
    for (const w of outcome.warnings) lines.push(`  ! [${w.phase}] ${w.message}`);
  }
  const total = result.outcomes.reduce((n, o) => n + o.changes.length, 0);
  const hostsWithChanges = result.outcomes.filter((o) => o.changes.length).length;
  lines.push(total === 0 ? 'Plan: no changes. The hosts are in the desired state.' : `Plan: ${total} change${total === 1 ? '' : 's'} on ${hostsWithChanges} host${hostsWithChanges === 1 ? '' : 's'}.`);
  return lines.join('\n');
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
  const details = failed.map((o) => `\n${o.name} (${o.status} in ${o.failedPhase}):\n${(o.error ?? '').split('\n').map((l) => `  ${l}`).join('\n')}`);
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
  };
}
