/**
 * firewall: an active firewalld or ufw either gets the Kubernetes ports opened for the host's
 * roles (default) or is disabled, as the inventory chooses.
 */
import { probe } from '../src/transport/probe.js';
import { requireService } from '../src/facts/services.js';
import { isControlPlane } from '../src/inventory/resolve.js';
import type { Change, Phase } from '../src/kit/phase.js';

type Payload = { kind: 'open'; tool: 'firewalld' | 'ufw'; ports: readonly string[] } | { kind: 'disable'; tool: 'firewalld' | 'ufw' };

/** TCP ports (and ranges) each role needs reachable from other nodes; kubeadm's ports table. */
export function requiredPorts(controlPlane: boolean, worker: boolean): string[] {
  const ports = ['10250'];
  if (controlPlane) ports.push('6443', '2379-2380', '10257', '10259');
  if (worker) ports.push('10256', '30000-32767');
  // flannel VXLAN between every node
  return [...ports, '8472/udp'];
}

const asSpec = (p: string, sep: string) => (p.includes('/') ? p.replace('-', sep) : `${p.replace('-', sep)}/tcp`);

export const firewallPhase: Phase<Payload> = {
  name: 'firewall',
  title: 'firewall (open Kubernetes ports or disable)',
  description: 'Opens the Kubernetes ports in an active firewalld or ufw, or disables it (preparation.firewall).',
  selectHosts: (ctx) => (ctx.inventory.preparation.firewall === 'leave' ? [] : ctx.hosts),
  async plan(ctx, target) {
    const seen = await probe(target.host, {
      firewalld: 'firewall-cmd --state >/dev/null && echo active',
      'firewalld-ports': 'firewall-cmd --list-ports | tr " " "\\n"',
      ufw: 'ufw status | grep -q "Status: active" && echo active',
      'ufw-ports': `ufw status | awk 'NR > 4 {print $1}'`,
    });
    const changes: Change<Payload>[] = [];
    for (const tool of ['firewalld', 'ufw'] as const) {
      if (!seen[tool].includes('active')) continue;
      const open = new Set(seen[`${tool}-ports`]);
      if (ctx.inventory.preparation.firewall === 'disable') {
        changes.push({ target: tool, summary: 'disable and stop', payload: { kind: 'disable', tool } });
        continue;
      }
      const sep = tool === 'firewalld' ? '-' : ':';
      const wanted = requiredPorts(isControlPlane(target.spec), target.spec.roles.includes('worker')).map((p) => asSpec(p, sep));
      const missing = wanted.filter((p) => !open.has(p));
      if (missing.length)
        changes.push({ target: tool, summary: `open ${missing.join(' ')}`, payload: { kind: 'open', tool, ports: missing } });
    }
    return { changes };
  },
  async apply(_ctx, target, changes) {
    for (const { payload } of changes) {
      if (payload.kind === 'disable')
        await target.host.check(
          payload.tool === 'firewalld' ? requireService(target.facts.initSystem, 'firewalld').disableNow() : 'ufw disable',
        );
      else if (payload.tool === 'firewalld')
        await target.host.check(
          `${payload.ports.map((p) => `firewall-cmd --permanent --add-port=${p}`).join(' && ')} && firewall-cmd --reload`,
        );
      else await target.host.check(payload.ports.map((p) => `ufw allow ${p}`).join(' && '));
    }
  },
};
