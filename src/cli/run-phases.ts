/** Shared body of the host-touching commands: open a session, run phases, report, close. */
import { adminKubeconfigPhase, savedClusterFiles } from '../../phases/admin-kubeconfig.js';
import { applyPhases, PHASE_GROUPS } from '../../phases/index.js';
import type { Inventory } from '../inventory/schema.js';
import type { Phase } from '../kit/phase.js';
import { existsSync, readFileSync } from 'node:fs';
import { writeLocalFile } from '../util/local-file.js';
import { formatPlan, formatSummary, reportJson } from '../workflow/report.js';
import { formatFindings, formatObserved, preflightGate } from '../preflight/checks.js';
import type { HostSnapshot } from '../preflight/gather.js';
import type { WorkflowResult } from '../workflow/engine.js';
import type { Mode } from '../kit/phase.js';
import { overSsh, runWorkflow, selectPhases, type RendererChoice } from '../workflow/runner.js';
import { openSession, type HostOptions, type Session } from './session.js';
import { airgapBundle, untrustedBundleWarning, withBundle } from '../airgap/inventory-bundle.js';
import { UsageError } from './errors.js';
import { commaList } from '../util/comma-list.js';

export interface PhaseOptions extends HostOptions {
  ignorePreflightErrors?: string;
  only?: string;
  skip?: string;
  diff?: boolean;
  report?: string;
  bundle?: string;
  waitAddons?: string | boolean;
}

/** How long `--wait-addons` without a value waits. */
const DEFAULT_ADDON_WAIT = '5m';

/** Where a command's human-readable report goes: stdout, or stderr under --output json (stdout then carries only JSON lines). */
export type Print = (text: string) => void;

/**
 * Runs `phases` in a fresh session; `report` prints the outcome and returns the exit code.
 * Under --output json the run ends with one `result` line: what --report writes.
 * Connections and the log are closed whatever happens.
 */
export async function runInSession(
  command: string,
  options: HostOptions,
  phases: readonly Phase[],
  mode: Mode,
  renderer: RendererChoice,
  report: (result: WorkflowResult<HostSnapshot>, session: Session, print: Print) => number,
  /** Run preflight before the phases, these checks' errors as warnings. */
  preflight?: { readonly ignore: ReadonlySet<string> },
  adjust: (inv: Inventory) => Inventory = (inv) => inv,
): Promise<number> {
  const session = await openSession(command, options);
  try {
    const inventory = adjust(session.loaded.inventory);
    // a bundle that does not match the inventory is refused here, before any host is touched
    const bundle = inventory.cluster.airgap.bundle ? await airgapBundle(inventory) : undefined;
    const untrusted = bundle && untrustedBundleWarning(bundle);
    if (untrusted) {
      console.error(untrusted);
      session.log.write('workflow', untrusted);
    }
    const result = await runWorkflow(inventory, session.targets, phases, {
      mode,
      concurrency: session.concurrency,
      renderer,
      open: overSsh(session.connect),
      log: session.log,
      ...(preflight ? { gate: preflightGate(inventory, preflight.ignore, bundle) } : {}),
      ...(bundle ? { bundle } : {}),
    });
    await Promise.all(result.connected.map((t) => t.host.close()));
    if (renderer !== 'json')
      return report(result, session, (text) => {
        console.log(text);
      });
    const code = report(result, session, (text) => {
      console.error(text);
    });
    console.log(JSON.stringify({ type: 'result', at: result.elapsedMs, ...reportJson(result) }));
    return code;
  } finally {
    await session.log.close();
  }
}

/** The inventory as the command's flags amend it: --bundle, --wait-addons. */
function amended(options: PhaseOptions): (inv: Inventory) => Inventory {
  const wait = options.waitAddons === true ? DEFAULT_ADDON_WAIT : options.waitAddons;
  if (typeof wait === 'string' && !/^(?=\d)(\d+h)?(\d+m)?(\d+s)?$/.test(wait))
    throw new UsageError(`--wait-addons ${wait}: expected a duration such as 5m or 90s`);
  return (inv) => {
    const withFile = options.bundle ? withBundle(inv, options.bundle) : inv;
    return wait ? { ...withFile, cluster: { ...withFile.cluster, addons: { ...withFile.cluster.addons, waitReady: wait } } } : withFile;
  };
}

export async function runPhases(mode: Mode, options: PhaseOptions): Promise<number> {
  const phases = selectPhases(applyPhases, commaList(options.only), commaList(options.skip), PHASE_GROUPS);
  const preflight = { ignore: new Set(commaList(options.ignorePreflightErrors)) };
  const adjust = amended(options);
  return runInSession(
    mode,
    options,
    phases,
    mode,
    options.output,
    (result, session, print) => {
      if (result.observed.length) print(`${formatObserved(result.observed)}\n${formatFindings(result.preflight, result.observed.length)}`);
      if (options.report) writeLocalFile(options.report, `${JSON.stringify(reportJson(result), null, 2)}\n`, 0o600);
      print(formatPlan(result, options.diff ?? false));
      print(formatSummary(result));
      if (session.log.path) print(`log: ${session.log.path}`);
      if (mode === 'apply' && result.ok && phases.includes(adminKubeconfigPhase)) printClusterAccess(session.loaded.inventory, print);
      return result.ok ? 0 : 1;
    },
    preflight,
    adjust,
  );
}

/** The usual report of a one-off workflow (reset, renew, restore, remove-node): changes, summary, log; exit code. */
export function reportOutcome(result: WorkflowResult, session: Session, print: Print, whenOk?: string): number {
  print(formatPlan(result, false));
  print(formatSummary(result));
  if (session.log.path) print(`log: ${session.log.path}`);
  if (result.ok && whenOk) print(`\n${whenOk}`);
  return result.ok ? 0 : 1;
}

/** Where the admin kubeconfig is and how nodes join; the join command goes to stdout only, never to the log. */
function printClusterAccess(inv: Inventory, print: Print): void {
  const files = savedClusterFiles(inv);
  if (!existsSync(files.admin)) return;
  print(`\nadmin kubeconfig: ${files.admin} (context ${files.context})\n  kubectl --kubeconfig ${files.admin} get nodes`);
  if (existsSync(files.join))
    print(`join a node (token valid for at least 2 more hours; saved in ${files.join}):\n  ${readFileSync(files.join, 'utf8').trim()}`);
}
