/** What a phase is: data with a read-only plan and an apply that performs only what was planned. */
import type { OpenBundle } from './bundle.js';
import type { HostFacts } from '../facts/probe.js';
import type { ResolvedHost } from '../inventory/resolve.js';
import type { Inventory } from '../inventory/schema.js';
import type { RunLog } from '../log/run-log.js';
import type { Host } from '../transport/host.js';

/** plan: compute and show the changes; apply: make them. */
export type Mode = 'plan' | 'apply';

/** One thing a phase would change on a host. */
export interface Change<P = unknown> {
  /** What is changed: a path, a package, a service, a setting. */
  readonly target: string;
  /** Short description: "create", "update mode 0644 → 0600", "install 1.23.17". */
  readonly summary: string;
  /** Optional longer text, e.g. a unified diff, shown by `plan --diff`. */
  readonly detail?: string;
  /** What apply needs to make the change (not shown). */
  readonly payload: P;
}

export interface PhasePlan<P = unknown> {
  readonly changes: readonly Change<P>[];
  /** Things the operator must know: a step that is impossible on this host and why. */
  readonly warnings?: readonly string[];
}

/** A connected host with its probed facts. */
export interface HostTarget {
  readonly spec: ResolvedHost;
  readonly host: Host;
  readonly facts: HostFacts;
}

export interface PhaseContext {
  readonly inventory: Inventory;
  /** Every host that connected, for phases that need cluster-wide knowledge (e.g. /etc/hosts). */
  readonly hosts: readonly HostTarget[];
  readonly log: RunLog;
  /** A line about work in progress on a host (a wait and what it waits for): shown under its task and logged. */
  readonly progress: (host: string, line: string) => void;
  /** The air-gap bundle (cluster.airgap.bundle or --bundle), verified against the inventory before any host was touched. */
  readonly bundle?: OpenBundle;
}

export interface Phase<P = unknown> {
  /** Stable name used by --only/--skip. */
  readonly name: string;
  readonly title: string;
  readonly description: string;
  /** Which hosts the phase touches; default: all. */
  selectHosts?(ctx: PhaseContext): readonly HostTarget[];
  /**
   * The plan reads what an earlier phase makes on another host (a CA): once anything changed
   * in the run, the plan read ahead is stale and is read again.
   */
  readonly readsOtherHosts?: boolean;
  plan(ctx: PhaseContext, target: HostTarget): Promise<PhasePlan<P>>;
  apply(ctx: PhaseContext, target: HostTarget, changes: readonly Change<P>[]): Promise<void>;
}
