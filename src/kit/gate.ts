/**
 * The gate a run passes before its phases (preflight): one read per host, then one judgement of
 * the whole cluster. The engine runs any gate it is given; preflight (src/preflight) is the one
 * the commands give it. Errors keep apply from changing anything.
 */
import type { HostTarget } from './phase.js';

export interface GateFinding {
  /** A stable name, as kubeadm's checks have (--ignore-preflight-errors takes it). */
  readonly check: string;
  readonly severity: 'error' | 'warning';
  readonly host: string;
  readonly message: string;
}

/** What the gate read on one host. */
export interface Observed<S> {
  readonly target: HostTarget;
  readonly snapshot: S;
}

export interface Gate<S> {
  /** One host's snapshot: a command that mostly waits on the network (mirror probes). */
  read(target: HostTarget): Promise<S>;
  /** The findings over every host read. */
  judge(observed: ReadonlyArray<Observed<S>>): GateFinding[];
}
