/**
 * Service control through the host's init system, a probed capability. Hosts without an init
 * system kubestrap can drive (containers running sshd directly) get `undefined`, and the phase
 * reports that instead of guessing.
 */
import type { InitSystem } from './probe.js';
import { quote } from '../transport/quote.js';

export interface ServiceControl {
  /** Prints `enabled` and `active` lines for the unit, for plans. */
  status(name: string): string;
  enableNow(name: string): string;
  restart(name: string): string;
  /** Stops the service and keeps it from starting at boot (reset). */
  disableNow(name: string): string;
}

const systemd: ServiceControl = {
  status: (n) => `systemctl is-enabled ${quote(n)} 2>/dev/null | sed 's/^/enabled /'; systemctl is-active ${quote(n)} 2>/dev/null | sed 's/^/active /'`,
  enableNow: (n) => `systemctl daemon-reload && systemctl enable --now ${quote(n)}`,
  restart: (n) => `systemctl restart ${quote(n)}`,
  disableNow: (n) => `systemctl disable --now ${quote(n)}`,
};

const openrc: ServiceControl = {
  status: (n) => `rc-update show default 2>/dev/null | grep -qw ${quote(n)} && echo "enabled enabled" || echo "enabled disabled"; rc-service ${quote(n)} status >/dev/null 2>&1 && echo "active active" || echo "active inactive"`,
  enableNow: (n) => `rc-update add ${quote(n)} default && rc-service ${quote(n)} start`,
  restart: (n) => `rc-service ${quote(n)} restart`,
  disableNow: (n) => `rc-service ${quote(n)} stop; rc-update del ${quote(n)} default`,
};

export function serviceControl(init: InitSystem): ServiceControl | undefined {
  if (init === 'systemd') return systemd;
  if (init === 'openrc') return openrc;
  return undefined;
}

export function parseServiceStatus(output: string): { enabled: boolean; active: boolean } {
  return { enabled: /^enabled enabled$/m.test(output), active: /^active active$/m.test(output) };
}

/**
 * A script printing when the process `name` started and when each of `files` last changed
 * (seconds since the epoch), for `changedSinceStart`. A run that wrote a service's configuration
 * and died before restarting it leaves the file already right: only these times show the
 * service still runs the old one.
 */
export function startAndChangeTimes(name: string, files: readonly string[]): string {
  // the oldest process of that name is the daemon: batched reads may run a `containerd --version` beside this
  return `pid=$(pgrep -o -x ${quote(name)})
start=$([ -n "$pid" ] && ps -o lstart= -p "$pid")
if [ -n "$start" ]; then echo "started $(date -d "$start" +%s)"; fi
stat -c 'mtime %Y' ${files.map(quote).join(' ')} 2>/dev/null
true`;
}

/** Whether one of the files changed after the process started, from `startAndChangeTimes`' output. */
export function changedSinceStart(output: string): boolean {
  const started = Number(/^started (\d+)$/m.exec(output)?.[1] ?? 0);
  const newest = Math.max(0, ...[...output.matchAll(/^mtime (\d+)$/gm)].map((m) => Number(m[1])));
  // a process start time read through ps can be a second early (boot time is kept in whole
  // seconds): only a file written more than a second after the start means a changed config
  return started > 0 && newest > started + 1;
}
