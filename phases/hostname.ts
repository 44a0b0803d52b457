/** hostname: each host's name becomes its node name (/etc/hostname and the running name). */
import { quote } from '../src/transport/quote.js';
import { applyFiles, planFiles, type FilePayload } from '../src/kit/managed-files.js';
import type { Change, Phase } from '../src/kit/phase.js';

type Payload = FilePayload | { kind: 'live'; name: string };

export const hostnamePhase: Phase<Payload> = {
  name: 'hostname',
  title: 'host name = node name',
  description: 'Sets /etc/hostname and the running host name to the node name.',
  selectHosts: (ctx) => (ctx.inventory.preparation.setHostname ? ctx.hosts : []),
  async plan(_ctx, target) {
    const name = target.spec.nodeName;
    const changes: Change<Payload>[] = await planFiles(target.host, [{ path: '/etc/hostname', content: `${name}\n`, mode: 0o644 }]);
    if (target.facts.hostname !== name)
      changes.push({ target: 'running host name', summary: `${target.facts.hostname} → ${name}`, payload: { kind: 'live', name } });
    return { changes };
  },
  async apply(_ctx, target, changes) {
    await applyFiles(target.host, changes);
    for (const { payload } of changes) {
      if (payload.kind !== 'live') continue;
      const command = target.facts.initSystem === 'systemd' ? 'hostnamectl set-hostname' : 'hostname';
      await target.host.check(`${command} ${quote(payload.name)}`);
    }
  },
};
