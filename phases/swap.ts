/**
 * swap: off now (swapoff -a) and after reboot (fstab swap lines commented out, with a dated
 * backup; systemd swap units masked). Inside a container swap belongs to the machine: a
 * warning says so instead of failing.
 */
import type { Host } from '../src/transport/host.js';
import { quote } from '../src/transport/quote.js';
import type { Change, Phase } from '../src/workflow/phase.js';

type Payload = { kind: 'swapoff'; devices: readonly string[] } | { kind: 'fstab'; lines: readonly string[] } | { kind: 'mask'; units: readonly string[] };

const SWAP_LINE = /^\s*[^#\s]\S*\s+\S+\s+swap\s/;

interface SwapState {
  readonly active: string[];
  readonly fstabLines: string[];
  readonly units: string[];
}

async function swapState(host: Host, systemd: boolean): Promise<SwapState> {
  const script = [
    `awk 'NR > 1 {print "active " $1}' /proc/swaps 2>/dev/null`,
    `[ -f /etc/fstab ] && sed -n 's/^/fstab /p' /etc/fstab`,
    systemd ? `systemctl list-unit-files --type swap --no-legend 2>/dev/null | awk '$2 != "masked" {print "unit " $1}'` : 'true',
    systemd ? `systemctl list-units --type swap --all --no-legend --plain 2>/dev/null | awk '{print "unit " $1}'` : 'true',
  ].join('\n');
  const { stdout } = await host.check(script);
  const pick = (prefix: string) => stdout.split('\n').filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
  return { active: pick('active '), fstabLines: pick('fstab ').filter((l) => SWAP_LINE.test(l)), units: [...new Set(pick('unit '))] };
}

export const swapPhase: Phase<Payload> = {
  name: 'swap',
  title: 'swap off, now and after reboot',
  description: 'Turns swap off (swapoff -a), comments out swap entries in /etc/fstab (backup kept) and masks systemd swap units.',
  selectHosts: (ctx) => (ctx.inventory.preparation.swapOff ? ctx.hosts : []),
  async plan(_ctx, target) {
    const state = await swapState(target.host, target.facts.initSystem === 'systemd');
    const changes: Change<Payload>[] = [];
    const warnings: string[] = [];
    if (state.active.length && target.facts.container) {
      warnings.push(`swap ${state.active.join(', ')} is the machine's, not the container's (${target.facts.container}): turn it off on the machine or set the kubelet's failSwapOn: false`);
    } else if (state.active.length) {
      changes.push({ target: 'active swap', summary: `swapoff ${state.active.join(' ')}`, payload: { kind: 'swapoff', devices: state.active } });
    }
    if (state.fstabLines.length) {
      changes.push({ target: '/etc/fstab', summary: `comment out ${state.fstabLines.length} swap entr${state.fstabLines.length === 1 ? 'y' : 'ies'} (backup /etc/fstab.kubestrap-<date>)`, detail: state.fstabLines.map((l) => `- ${l}\n+ # ${l}`).join('\n'), payload: { kind: 'fstab', lines: state.fstabLines } });
    }
    if (state.units.length) changes.push({ target: 'systemd swap units', summary: `mask ${state.units.join(' ')}`, payload: { kind: 'mask', units: state.units } });
    return { changes, warnings };
  },
  async apply(_ctx, target, changes) {
    for (const { payload } of changes) {
      if (payload.kind === 'swapoff') await target.host.check('swapoff -a');
      if (payload.kind === 'fstab') {
        // comment out exactly the swap lines, keeping a dated backup of the original
        await target.host.check(
          `b=/etc/fstab.kubestrap-$(date +%Y%m%d%H%M%S); cp -p /etc/fstab "$b" && awk '{ if ($0 ~ /^[[:space:]]*[^#[:space:]][^[:space:]]*[[:space:]]+[^[:space:]]+[[:space:]]+swap[[:space:]]/) print "# " $0 " # disabled by kubestrap"; else print }' "$b" > /etc/fstab.kubestrap-new && chmod --reference="$b" /etc/fstab.kubestrap-new && mv /etc/fstab.kubestrap-new /etc/fstab`,
        );
      }
      if (payload.kind === 'mask') await target.host.check(`systemctl mask --now ${payload.units.map(quote).join(' ')}`);
    }
  },
};
