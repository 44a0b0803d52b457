/** selinux: permissive now (setenforce 0) and after reboot (/etc/selinux/config), on hosts that have it. */
import type { Change, Phase } from '../src/kit/phase.js';

type Payload = { kind: 'now' } | { kind: 'config' };

/** The SELINUX= line of /etc/selinux/config rewritten to permissive; pure, unit-tested. */
export function permissiveConfig(config: string): string {
  return config.replace(/^SELINUX=\S*/m, 'SELINUX=permissive');
}

export const selinuxPhase: Phase<Payload> = {
  name: 'selinux',
  title: 'SELinux permissive',
  description: 'Sets SELinux to permissive now and in /etc/selinux/config (RHEL family).',
  selectHosts: (ctx) => (ctx.inventory.preparation.selinux === 'permissive' ? ctx.hosts : []),
  async plan(_ctx, target) {
    const { stdout } = await target.host.exec(
      'command -v getenforce >/dev/null 2>&1 && echo "mode $(getenforce)"; [ -f /etc/selinux/config ] && sed -n "s/^SELINUX=/config /p" /etc/selinux/config',
    );
    const mode = /^mode (\S+)/m.exec(stdout)?.[1];
    const config = /^config (\S+)/m.exec(stdout)?.[1];
    const changes: Change<Payload>[] = [];
    if (mode === 'Enforcing')
      changes.push({ target: 'SELinux mode', summary: 'Enforcing → Permissive (setenforce 0)', payload: { kind: 'now' } });
    if (config === 'enforcing')
      changes.push({ target: '/etc/selinux/config', summary: 'SELINUX=enforcing → permissive', payload: { kind: 'config' } });
    return { changes };
  },
  async apply(_ctx, target, changes) {
    for (const { payload } of changes) {
      if (payload.kind === 'now') await target.host.check('setenforce 0');
      if (payload.kind === 'config') {
        const current = (await target.host.readFile('/etc/selinux/config'))!.toString('utf8');
        await target.host.writeFile('/etc/selinux/config', permissiveConfig(current), 0o644);
      }
    }
  },
};
