/**
 * time-sync: a time synchronisation service runs (chrony, or systemd-timesyncd), because
 * certificates, tokens and etcd need agreeing clocks. Inside a container the clock is the
 * machine's, so the host only gets a warning.
 */
import { probe } from '../src/transport/probe.js';
import { whenUnlocked } from '../src/facts/package-lock.js';
import { packageOps } from '../src/facts/packages.js';
import { noInitSystem, parseServiceStatus, requireService, serviceOf } from '../src/facts/services.js';
import type { Change, Phase } from '../src/kit/phase.js';

type Payload = { kind: 'install-chrony' } | { kind: 'enable'; service: string };

export const timeSyncPhase: Phase<Payload> = {
  name: 'time-sync',
  title: 'time synchronisation (chrony or systemd-timesyncd)',
  description: 'Makes sure chrony or systemd-timesyncd is enabled and running, installing chrony when neither exists.',
  selectHosts: (ctx) => (ctx.inventory.preparation.timeSync === 'auto' ? ctx.hosts : []),
  async plan(_ctx, target) {
    const { host, facts } = target;
    if (facts.container)
      return {
        changes: [],
        warnings: [`the clock belongs to the machine running this container (${facts.container}): synchronise time there`],
      };
    // chrony's unit is chronyd on the RHEL family and chrony on Debian
    const candidates = ['chronyd', 'chrony', 'systemd-timesyncd'].flatMap((c) => serviceOf(facts.initSystem, c) ?? []);
    if (!candidates.length) return { changes: [], warnings: [noInitSystem(facts.initSystem, 'make sure a time service runs')] };
    const seen = await probe(host, Object.fromEntries(candidates.map((c) => [c.name, `${c.exists()} && { ${c.status()}; }`])));
    const present = candidates.map((c) => c.name).filter((c) => seen[c]!.includes('exists'));
    const running = present.find((c) => parseServiceStatus(seen[c]!.join('\n')).active);
    if (running) return { changes: [] };
    const changes: Change<Payload>[] = [];
    if (present.length === 0) changes.push({ target: 'packages', summary: 'install chrony', payload: { kind: 'install-chrony' } });
    const service = present[0] ?? (facts.packageManager === 'apt' ? 'chrony' : 'chronyd');
    changes.push({ target: `service ${service}`, summary: 'enable and start', payload: { kind: 'enable', service } });
    return { changes };
  },
  async apply(ctx, target, changes) {
    for (const { payload } of changes) {
      if (payload.kind === 'install-chrony') {
        const ops = packageOps(target.facts.packageManager);
        if (!ops) throw new Error(`cannot install chrony: no supported package manager (${target.facts.packageManager})`);
        await whenUnlocked(target.host, ops.locks, (line) => {
          ctx.progress(target.spec.name, line);
        });
        await target.host.check(ops.install([{ name: 'chrony' }]), { timeoutMs: 10 * 60_000 });
      }
      if (payload.kind === 'enable') await target.host.check(requireService(target.facts.initSystem, payload.service).enableNow());
    }
  },
};
