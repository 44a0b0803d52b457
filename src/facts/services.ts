/**
 * A service on a host, driven through the host's init system (a probed capability): one handle
 * per service whose scripts the phases run or batch into their reads, as rig's service handle
 * does for k0sctl. Hosts without an init system kubestrap can drive (containers running sshd
 * directly) have no handle, and the caller says so instead of guessing.
 */
import type { InitSystem } from './probe.js';
import { quote } from '../transport/quote.js';

export interface Service {
  readonly name: string;
  /** Prints `enabled …` and `active …` lines, for plans (parseServiceStatus reads them). */
  status(): string;
  /** Prints `exists` when the host has the service at all. */
  exists(): string;
  /** Enabled at boot and started now (unit files re-read first, where the init system keeps them). */
  enableNow(): string;
  restart(): string;
  /** Its unit file re-read, then restarted: after kubestrap changed the file. */
  reloadAndRestart(): string;
  /** Stopped, kept from starting at boot, and no failed state left behind (reset). */
  disableNow(): string;
  /** Its last `lines` log lines. */
  logs(lines: number): string;
}

function systemd(name: string): Service {
  const n = quote(name);
  return {
    name,
    status: () => `systemctl is-enabled ${n} 2>/dev/null | sed 's/^/enabled /'; systemctl is-active ${n} 2>/dev/null | sed 's/^/active /'`,
    exists: () => `systemctl cat ${quote(`${name}.service`)} >/dev/null 2>&1 && echo exists`,
    enableNow: () => `systemctl daemon-reload && systemctl enable --now ${n}`,
    restart: () => `systemctl restart ${n}`,
    reloadAndRestart: () => `systemctl daemon-reload && systemctl restart ${n}`,
    // a service whose process exits with an error when told to stop stays `failed`, which
    // monitoring (systemctl --failed) would report for a service that is gone
    disableNow: () => `systemctl disable --now ${n} && { systemctl reset-failed ${n} 2>/dev/null; true; }`,
    logs: (lines) => `journalctl -u ${n} -n ${lines} --no-pager -o cat`,
  };
}

function openrc(name: string): Service {
  const n = quote(name);
  return {
    name,
    status: () =>
      [
        `rc-update show default 2>/dev/null | grep -qw ${n} && echo "enabled enabled" || echo "enabled disabled"`,
        `rc-service ${n} status >/dev/null 2>&1 && echo "active active" || echo "active inactive"`,
      ].join('\n'),
    exists: () => `[ -x ${quote(`/etc/init.d/${name}`)} ] && echo exists`,
    enableNow: () => `rc-update add ${n} default && rc-service ${n} start`,
    restart: () => `rc-service ${n} restart`,
    reloadAndRestart: () => `rc-service ${n} restart`,
    disableNow: () => `rc-service ${n} stop; rc-update del ${n} default`,
    // OpenRC's supervise-daemon services log where their init script says, by convention here
    logs: (lines) => `tail -n ${lines} ${quote(`/var/log/${name}.log`)} 2>/dev/null`,
  };
}

/** The service `name` through the host's init system; undefined when kubestrap cannot drive it. */
export function serviceOf(init: InitSystem, name: string): Service | undefined {
  if (init === 'systemd') return systemd(name);
  if (init === 'openrc') return openrc(name);
  return undefined;
}

/** What a host without a drivable init system is told (`found`: what it has). */
export const noInitSystem = (init: InitSystem, what: string) => `no init system kubestrap can drive (found ${init}): ${what}`;

/** The service `name`, or the error naming why kubestrap cannot drive it. */
export function requireService(init: InitSystem, name: string): Service {
  const service = serviceOf(init, name);
  if (!service) throw new Error(noInitSystem(init, `${name} needs a service manager to keep it running`));
  return service;
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

/** When the process started (seconds since the epoch, by the host's clock), from `startAndChangeTimes`' output; 0 when it does not run. */
export function startedAt(output: string): number {
  return Number(/^started (\d+)$/m.exec(output)?.[1] ?? 0);
}

/** Whether one of the files changed after the process started, from `startAndChangeTimes`' output. */
export function changedSinceStart(output: string): boolean {
  const started = startedAt(output);
  const newest = Math.max(0, ...[...output.matchAll(/^mtime (\d+)$/gm)].map((m) => Number(m[1])));
  // a process start time read through ps can be a second early (boot time is kept in whole
  // seconds): only a file written more than a second after the start means a changed config
  return started > 0 && newest > started + 1;
}
