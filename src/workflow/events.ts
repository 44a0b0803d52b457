/**
 * What a workflow run says while it runs: typed events the engine emits in order, for the
 * renderers (listr2's tree, plain lines, JSON lines) and for tests that drive the engine alone.
 */
import type { Mode } from '../kit/phase.js';

/** A step of the run every host goes through: connecting, reading ahead, or one phase (by its name). */
export interface StageInfo {
  readonly name: string;
  readonly kind: 'connect' | 'read' | 'phase';
  /** How renderers title it ("kubelet-start: kubelet enabled and running …"). */
  readonly title: string;
}

export interface ChangeSummary {
  readonly target: string;
  readonly summary: string;
}

export type WorkflowEventBody =
  | { readonly type: 'run-start'; readonly mode: Mode; readonly hosts: readonly string[]; readonly stages: readonly StageInfo[] }
  /** The stage begins on these hosts (none: it is skipped, with `skipped` saying why). */
  | { readonly type: 'stage-start'; readonly stage: string; readonly hosts: readonly string[]; readonly skipped?: string }
  | { readonly type: 'host-start'; readonly stage: string; readonly host: string }
  /** Work in progress on a host (a wait and what it waits for). */
  | { readonly type: 'host-progress'; readonly stage: string; readonly host: string; readonly line: string }
  | {
      readonly type: 'host-done';
      readonly stage: string;
      readonly host: string;
      readonly summary: string;
      readonly changes?: readonly ChangeSummary[];
      readonly warnings?: readonly string[];
      readonly elapsedMs: number;
    }
  | { readonly type: 'host-failed'; readonly stage: string; readonly host: string; readonly error: string; readonly elapsedMs: number }
  /** The stage ended; `error` when it stopped the run (preflight errors before apply). */
  | { readonly type: 'stage-done'; readonly stage: string; readonly summary?: string; readonly error?: string; readonly elapsedMs: number }
  | { readonly type: 'run-done'; readonly ok: boolean; readonly elapsedMs: number };

/** An event with the time it happened, in milliseconds since the run started. */
export type WorkflowEvent = WorkflowEventBody & { readonly at: number };

export type WorkflowListener = (event: WorkflowEvent) => void;
