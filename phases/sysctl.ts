/**
 * sysctl: writes /etc/sysctl.d/kubernetes.conf and makes the live kernel match it. Settings the
 * host cannot change (inside a container /proc/sys is read-only except per-namespace network
 * settings) are reported per host with the reason, never silently skipped.
 */
import { renderSysctlConf, SYSCTL_FILE, sysctlSettings, type SysctlSetting } from '../templates/sysctl.js';
import type { HostFacts } from '../src/facts/probe.js';
import type { Host } from '../src/transport/host.js';
import { quote } from '../src/transport/quote.js';
import { applyFiles, planFiles, type DesiredFile, type FilePayload } from '../src/kit/managed-files.js';
import type { Change, Phase } from '../src/kit/phase.js';

type Payload = FilePayload | { kind: 'live'; settings: readonly SysctlSetting[] };

interface LiveState {
  readonly state: 'rw' | 'ro' | 'absent';
  readonly value: string;
}

const procPath = (key: string) => `/proc/sys/${key.replace(/\./g, '/')}`;
const normalize = (v: string) => v.trim().split(/\s+/).join(' ');

async function readLive(host: Host, keys: readonly string[]): Promise<Map<string, LiveState>> {
  // states from shell builtins, values from one grep over all present files: a handful of
  // processes per host whatever the number of keys (the shell's `read` cannot read /proc/sys)
  const script = [
    'set --',
    ...keys.map((k) => {
      // the key is quoted here too, not only constrained by the schema: printf prints it as data
      const [p, q] = [quote(procPath(k)), quote(k)];
      return [
        `if [ ! -e ${p} ]; then printf 'state %s absent\\n' ${q}`,
        `elif [ -w ${p} ]; then set -- "$@" ${p}; printf 'state %s rw\\n' ${q}`,
        `else set -- "$@" ${p}; printf 'state %s ro\\n' ${q}; fi`,
      ].join('\n');
    }),
    'if [ $# -gt 0 ]; then grep -H "" "$@" 2>/dev/null | sed "s/^/value /"; fi',
    'true',
  ].join('\n');
  const { stdout } = await host.check(script);
  const values = new Map<string, string>();
  for (const line of stdout.split('\n').filter((l) => l.startsWith('value /'))) {
    const colon = line.indexOf(':');
    values.set(line.slice('value '.length, colon), line.slice(colon + 1));
  }
  const out = new Map<string, LiveState>();
  for (const line of stdout.split('\n').filter((l) => l.startsWith('state '))) {
    const [, key, state] = line.split(' ') as [string, string, LiveState['state']];
    out.set(key, { state, value: values.get(procPath(key)) ?? '' });
  }
  return out;
}

function blockedWarning(facts: HostFacts, keys: string[], state: 'ro' | 'absent'): string {
  if (state === 'ro') {
    const where = facts.container ? `inside a container (${facts.container})` : 'on this host';
    return `cannot set ${keys.join(', ')}: /proc/sys is read-only ${where}; these are machine-wide settings — set them on the machine that runs the container`;
  }
  const bridge = keys.filter((k) => k.startsWith('net.bridge.'));
  const other = keys.filter((k) => !k.startsWith('net.bridge.'));
  const parts: string[] = [];
  if (bridge.length) parts.push(`${bridge.join(', ')}: absent until the br_netfilter module is loaded (kernel-modules phase)`);
  if (other.length)
    parts.push(
      `${other.join(', ')}: not present in this kernel${facts.container ? ` or are not visible inside the container (${facts.container})` : ''}`,
    );
  return `cannot set: ${parts.join('; ')}`;
}

export const sysctlPhase: Phase<Payload> = {
  name: 'sysctl',
  title: 'kernel settings (/etc/sysctl.d)',
  description:
    'Writes /etc/sysctl.d/kubernetes.conf (IP forwarding, bridge netfilter, conntrack, inotify, file and TCP limits) and applies it.',
  async plan(ctx, target) {
    const settings = sysctlSettings(ctx.inventory.preparation.sysctl);
    const file: DesiredFile = { path: SYSCTL_FILE, content: renderSysctlConf(settings), mode: 0o644 };
    const changes: Change<Payload>[] = await planFiles(target.host, [file]);
    const live = await readLive(
      target.host,
      settings.map((s) => s.key),
    );
    const differing = settings.filter((s) => live.get(s.key)?.state === 'rw' && normalize(live.get(s.key)!.value) !== normalize(s.value));
    if (differing.length) {
      changes.push({
        target: 'live kernel settings',
        summary: `set ${differing.map((s) => `${s.key}=${s.value} (now ${normalize(live.get(s.key)!.value)})`).join(', ')}`,
        payload: { kind: 'live', settings: differing },
      });
    }
    const warnings: string[] = [];
    for (const state of ['ro', 'absent'] as const) {
      const keys = settings.filter((s) => live.get(s.key)?.state === state).map((s) => s.key);
      if (keys.length) warnings.push(blockedWarning(target.facts, keys, state));
    }
    return { changes, warnings };
  },
  async apply(_ctx, target, changes) {
    await applyFiles(target.host, changes);
    const live = changes.flatMap((c) => (c.payload.kind === 'live' ? c.payload.settings : []));
    if (live.length === 0) return;
    if (target.facts.procSysWritable) {
      // as at boot: every sysctl.d file in order, so the result matches what a reboot gives
      await target.host.check('sysctl --system >/dev/null');
    } else {
      await target.host.check(live.map((s) => `sysctl -q -w ${quote(`${s.key}=${s.value}`)}`).join('\n'));
    }
    const after = await readLive(
      target.host,
      live.map((s) => s.key),
    );
    const wrong = live.filter((s) => normalize(after.get(s.key)?.value ?? '') !== normalize(s.value));
    if (wrong.length) {
      throw new Error(
        `kernel settings did not take effect: ${wrong.map((s) => `${s.key} is ${normalize(after.get(s.key)?.value ?? '?')}, want ${s.value}`).join('; ')} (another file in /etc/sysctl.d or /etc/sysctl.conf may override them)`,
      );
    }
  },
};
