/** Applies hostDefaults and derived defaults, giving each host the complete settings it runs with. */
import { isIP } from 'node:net';
import type { AuthSpec, BastionSpec, HostSpec, Inventory, Role, SudoSpec } from './schema.js';

export interface ResolvedHost {
  readonly index: number;
  readonly name: string;
  /** As written: an IP, a DNS name or a Host alias of ~/.ssh/config. */
  readonly address: string;
  /** The login as the inventory gives it; undefined: ~/.ssh/config or the built-in default decides when connecting (transport/credentials). */
  readonly port: number | undefined;
  readonly user: string | undefined;
  readonly auth: AuthSpec | undefined;
  /** undefined: none for a root login, passwordless otherwise, once the login user is known. */
  readonly sudo: SudoSpec | undefined;
  readonly hostKey: string | undefined;
  readonly bastion: BastionSpec | undefined;
  readonly roles: readonly Role[];
  readonly nodeName: string;
  /** IP the node advertises; undefined only for workers reached by DNS name (probed later). */
  readonly advertiseAddress: string | undefined;
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: NonNullable<HostSpec['taints']>;
}

export function resolveHost(inv: Inventory, host: HostSpec, index: number): ResolvedHost {
  const d = inv.hostDefaults;
  return {
    index,
    name: host.name,
    address: host.address,
    port: host.port ?? d.port,
    user: host.user ?? d.user,
    auth: host.auth ?? d.auth,
    sudo: host.sudo ?? d.sudo,
    hostKey: host.hostKey,
    bastion: host.bastion ?? d.bastion,
    roles: host.roles,
    nodeName: host.nodeName ?? host.name,
    advertiseAddress: host.advertiseAddress ?? (isIP(host.address) ? host.address : undefined),
    labels: host.labels ?? {},
    taints: host.taints ?? [],
  };
}

export function resolveHosts(inv: Inventory): ResolvedHost[] {
  return inv.hosts.map((h, i) => resolveHost(inv, h, i));
}

export function isControlPlane(host: { roles: readonly Role[] }): boolean {
  return host.roles.includes('control-plane');
}

/** Port every API server binds (kubeadm's default) and the node-local balancer listens on. */
/** Whether ordinary workloads are scheduled on the host: a worker, or a control plane that is also one (without the control-plane taint). */
export function runsWorkloads(host: { roles: readonly Role[] }): boolean {
  return host.roles.includes('worker');
}

export const API_PORT = 6443;

/**
 * The API endpoint nodes use (host[:port]): the inventory's controlPlaneEndpoint, or in
 * node-local mode the balancer's name; undefined means the first control plane's address.
 */
export function apiEndpoint(inv: Inventory): string | undefined {
  const c = inv.cluster;
  return c.controlPlaneEndpoint ?? (c.apiLoadBalancer.mode === 'node-local' ? `${c.apiLoadBalancer.domain}:${API_PORT}` : undefined);
}
