/**
 * swap: off now (swapoff -a) and after reboot (fstab swap lines commented out, with a dated
 * backup; systemd swap units masked). Inside a container swap belongs to the machine: a
 * warning says so instead of failing.
 */
import { applyFiles, planFiles, type FilePayload } from '../src/kit/managed-files.js';
import type { Change, Phase } from '../src/kit/phase.js';
import { probe } from '../src/transport/probe.js';
import { quote } from '../src/transport/quote.js';

type Payload = FilePayload | { kind: 'swapoff'; devices: readonly string[] } | { kind: 'mask'; units: readonly string[] };

const FSTAB = '/etc/fstab';
/** An fstab line that mounts swap (not a comment). */
const SWAP_LINE = /^\s*[^#\s]\S*\s+\S+\s+swap\s/;
const disabled = (line: string) => (SWAP_LINE.test(line) ? `# ${line} # disabled by kubestrap` : line);
/** yyyymmddhhmmss, the backup's name. */
const stamp = (d: Date) => d.toISOString().replace(/\D/g, '').slice(0, 14);

export const swapPhase: Phase<Payload> = {
  name: 'swap',
  title: 'swap off, now and after reboot',
  description: 'Turns swap off (swapoff -a), comments out swap entries in /etc/fstab (backup kept) and masks systemd swap units.',
  selectHosts: (ctx) => (ctx.inventory.preparation.swapOff ? ctx.hosts : []),
  async plan(_ctx, target) {
    const systemd = target.facts.initSystem === 'systemd';
    const seen = await probe(target.host, {
      active: `awk 'NR > 1 {print $1}' /proc/swaps`,
      fstab: `[ -f ${FSTAB} ] && cat ${FSTAB}`,
      mode: `stat -c %a ${FSTAB}`,
      unit: systemd
        ? [
            `systemctl list-unit-files --type swap --no-legend | awk '$2 != "masked" {print $1}'`,
            `systemctl list-units --type swap --all --no-legend --plain | awk '{print $1}'`,
          ].join('\n')
        : 'true',
    });
    const units = [...new Set(seen.unit)];
    const changes: Change<Payload>[] = [];
    const warnings: string[] = [];
    if (seen.active.length && target.facts.container) {
      warnings.push(
        `swap ${seen.active.join(', ')} is the machine's, not the container's (${target.facts.container}): turn it off on the machine or set the kubelet's failSwapOn: false`,
      );
    } else if (seen.active.length) {
      changes.push({
        target: 'active swap',
        summary: `swapoff ${seen.active.join(' ')}`,
        payload: { kind: 'swapoff', devices: seen.active },
      });
    }
    if (seen.fstab.some((l) => SWAP_LINE.test(l))) {
      // the swap lines commented out; the original kept beside it, dated, with its mode
      const mode = Number.parseInt(seen.mode[0] ?? '644', 8);
      const original = `${seen.fstab.join('\n')}\n`;
      const files = [
        { path: `${FSTAB}.kubestrap-${stamp(new Date())}`, content: original, mode },
        { path: FSTAB, content: `${seen.fstab.map(disabled).join('\n')}\n`, mode },
      ];
      changes.push(...(await planFiles(target.host, files)));
    }
    if (units.length) changes.push({ target: 'systemd swap units', summary: `mask ${units.join(' ')}`, payload: { kind: 'mask', units } });
    return { changes, warnings };
  },
  async apply(_ctx, target, changes) {
    await applyFiles(target.host, changes);
    for (const { payload } of changes) {
      if (payload.kind === 'swapoff') await target.host.check('swapoff -a');
      if (payload.kind === 'mask') await target.host.check(`systemctl mask --now ${payload.units.map(quote).join(' ')}`);
    }
  },
};
