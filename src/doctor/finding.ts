/**
 * What `kubestrap doctor` reports: findings, each with its severity, what it concerns, why it
 * matters and the command that fixes it; the report for people, the JSON for cron and CI, and
 * the exit code (0 healthy, 1 warnings, 2 errors).
 */
import { printable } from '../log/redact.js';

export type Severity = 'error' | 'warning';

/** The check groups `--only`/`--skip` choose from, in the order they run. */
export const CHECK_GROUPS = ['hosts', 'certificates', 'etcd', 'cluster'] as const;
export type CheckGroup = (typeof CHECK_GROUPS)[number];

export interface Finding {
  readonly severity: Severity;
  readonly group: CheckGroup;
  /** The host (`worker-1`) or object (`Node worker-1`, `APIService v1beta1.metrics.k8s.io`) it concerns. */
  readonly subject: string;
  readonly problem: string;
  /** What breaks, for whom. */
  readonly why: string;
  /** The exact command that fixes it (a kubestrap command where one exists). */
  readonly fix: string;
}

/** How a finding's fix names kubestrap: `kubestrap ARGS -i INVENTORY`. */
export type KubestrapCommand = (args: string) => string;

/** What the doctor's phases add their findings to, and how their fixes name kubestrap. */
export interface DoctorRun {
  readonly findings: Finding[];
  readonly kubestrap: KubestrapCommand;
}

/** The version of the JSON report's shape (docs/doctor.md): a new field keeps it, a changed one bumps it. */
export const DOCTOR_SCHEMA = 'kubestrap.dev/doctor/v1';

export function exitCode(findings: readonly Finding[]): 0 | 1 | 2 {
  if (findings.some((f) => f.severity === 'error')) return 2;
  return findings.length ? 1 : 0;
}

const count = (findings: readonly Finding[], severity: Severity) => findings.filter((f) => f.severity === severity).length;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Errors first, then warnings; within each, in the order the checks found them. */
const bySeverity = (findings: readonly Finding[]) => [
  ...findings.filter((f) => f.severity === 'error'),
  ...findings.filter((f) => f.severity === 'warning'),
];

/** The report for people: each finding with its why and fix, then one summary line. */
export function formatDoctor(findings: readonly Finding[], examined: string): string {
  const blocks = bySeverity(findings).map((f) =>
    [
      `${f.severity === 'error' ? 'ERROR  ' : 'WARNING'} ${printable(f.subject)}: ${printable(f.problem)}`,
      `        why: ${printable(f.why)}`,
      `        fix: ${printable(f.fix)}`,
    ].join('\n'),
  );
  const summary = findings.length
    ? `doctor: ${plural(count(findings, 'error'), 'error')}, ${plural(count(findings, 'warning'), 'warning')} (${examined})`
    : `doctor: healthy, no finding (${examined})`;
  return [...blocks, summary].join('\n\n');
}

/** The JSON report: its schema, the counts and the findings, errors first. */
export function doctorJson(findings: readonly Finding[], examined: string) {
  return {
    schema: DOCTOR_SCHEMA,
    examined,
    errors: count(findings, 'error'),
    warnings: count(findings, 'warning'),
    findings: bySeverity(findings),
  };
}
