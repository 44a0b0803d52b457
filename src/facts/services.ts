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
