/**
 * time-sync: a time synchronisation service runs (chrony, or systemd-timesyncd), because
 * certificates, tokens and etcd need agreeing clocks. Inside a container the clock is the
 * machine's, so the host only gets a warning.
 */
import { whenUnlocked } from '../src/facts/package-lock.js';
import { packageOps } from '../src/facts/packages.js';
import { parseServiceStatus, serviceControl } from '../src/facts/services.js';
import type { Change, Phase } from '../src/workflow/phase.js';

type Payload = { kind: 'install-chrony' } | { kind: 'enable'; service: string };

export const timeSyncPhase: Phase<Payload> = {
  name: 'time-sync',
  title: 'time synchronisation (chrony or systemd-timesyncd)',
  description: 'Makes sure chrony or systemd-timesyncd is enabled and running, installing chrony when neither exists.',
  selectHosts: (ctx) => (ctx.inventory.preparation.timeSync === 'auto' ? ctx.hosts : []),
  async plan(_ctx, target) {
    const { host, facts } = target;
    if (facts.container) return { changes: [], warnings: [`the clock belongs to the machine running this container (${facts.container}): synchronise time there`] };
    const services = serviceControl(facts.initSystem);
    if (!services) return { changes: [], warnings: [`no init system kubestrap can drive (${facts.initSystem}): make sure a time service runs`] };
    // chrony's unit is chronyd on the RHEL family and chrony on Debian
    const candidates = ['chronyd', 'chrony', 'systemd-timesyncd'];
    const { stdout } = await host.exec(candidates.map((c) => `if systemctl cat ${c}.service >/dev/null 2>&1; then echo "unit ${c}"; ${services.status(c)} | sed 's/^/${c} /'; fi`).join('\n'));
    const present = candidates.filter((c) => new RegExp(`^unit ${c}$`, 'm').test(stdout));
    const running = present.find((c) => parseServiceStatus(stdout.split('\n').filter((l) => l.startsWith(`${c} `)).map((l) => l.slice(c.length + 1)).join('\n')).active);
    if (running) return { changes: [] };
    const changes: Change<Payload>[] = [];
    if (present.length === 0) changes.push({ target: 'packages', summary: 'install chrony', payload: { kind: 'install-chrony' } });
    const service = present[0] ?? (facts.packageManager === 'apt' ? 'chrony' : 'chronyd');
    changes.push({ target: `service ${service}`, summary: 'enable and start', payload: { kind: 'enable', service } });
    return { changes };
  },
  async apply(ctx, target, changes) {
    const services = serviceControl(target.facts.initSystem)!;
    for (const { payload } of changes) {
      if (payload.kind === 'install-chrony') {
        const ops = packageOps(target.facts.packageManager);
        if (!ops) throw new Error(`cannot install chrony: no supported package manager (${target.facts.packageManager})`);
        await whenUnlocked(ctx, target, ops.locks);
        await target.host.check(ops.install([{ name: 'chrony' }]), { timeoutMs: 10 * 60_000 });
      }
      if (payload.kind === 'enable') await target.host.check(services.enableNow(payload.service));
    }
  },
};
