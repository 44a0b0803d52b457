/**
 * Runs phases across hosts and shows it: the engine (engine.ts) does the work and emits events,
 * the chosen renderer draws them (listr2's tree or plain lines, JSON lines, or nothing).
 */
import type { OpenBundle } from '../kit/bundle.js';
import type { Inventory } from '../inventory/schema.js';
import type { RunLog } from '../log/run-log.js';
import type { ConnectTarget } from '../transport/credentials.js';
import { connectTarget, type ConnectOptions } from '../kit/connect.js';
import { runEngine, stagesOf, type Reachable, type WorkflowResult } from './engine.js';
import { jsonLinesRenderer } from './json-renderer.js';
import { listrRenderer } from './listr-renderer.js';
import type { Gate } from '../kit/gate.js';
import type { HostTarget, Mode, Phase } from '../kit/phase.js';

export type RendererChoice = 'auto' | 'plain' | 'silent' | 'json';

export interface RunOptions<S = unknown> {
  readonly mode: Mode;
  /** The cluster-wide gate before the phases (preflight); its errors stop apply before any change. */
  readonly gate?: Gate<S>;
  readonly concurrency: number;
  readonly renderer: RendererChoice;
  readonly log: RunLog;
  readonly bundle?: OpenBundle;
}

/** Opens inventory hosts over SSH. */
export const overSsh =
  (connect: ConnectOptions) =>
  (target: ConnectTarget): Promise<HostTarget> =>
    connectTarget(target, connect);

export class PhaseSelectionError extends Error {}

/**
 * The phases --only/--skip leave, refusing names that are not phases (a typo must not run
 * everything); a name may also be a group (e.g. `prepare`, `init`), which stands for its phases.
 */
export function selectPhases(
  phases: readonly Phase[],
  only: readonly string[] = [],
  skip: readonly string[] = [],
  groups: Readonly<Record<string, readonly string[]>> = {},
): Phase[] {
  const known = new Set(phases.map((p) => p.name));
  const unknown = [...only, ...skip].filter((n) => !known.has(n) && !groups[n]);
  if (unknown.length) {
    const groupNames = Object.keys(groups);
    throw new PhaseSelectionError(
      `unknown phase${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; phases are: ${[...known].join(', ')}${groupNames.length ? `; groups: ${groupNames.join(', ')}` : ''}`,
    );
  }
  const expand = (names: readonly string[]) => names.flatMap((n) => groups[n] ?? [n]);
  const [onlyNames, skipNames] = [expand(only), expand(skip)];
  return phases.filter((p) => (onlyNames.length === 0 || onlyNames.includes(p.name)) && !skipNames.includes(p.name));
}

export async function runWorkflow<T extends Reachable, S>(
  inventory: Inventory,
  targets: readonly T[],
  phases: readonly Phase[],
  options: RunOptions<S> & { readonly open: (target: T) => Promise<HostTarget> },
): Promise<WorkflowResult<S>> {
  const { renderer, ...engine } = options;
  if (renderer === 'silent') return runEngine(inventory, targets, phases, engine);
  if (renderer === 'json') return runEngine(inventory, targets, phases, { ...engine, listener: jsonLinesRenderer() });
  const display = listrRenderer(stagesOf(phases, options.gate !== undefined), renderer === 'plain' ? 'simple' : 'default');
  const result = await runEngine(inventory, targets, phases, { ...engine, listener: display.listener });
  await display.finished;
  return result;
}
