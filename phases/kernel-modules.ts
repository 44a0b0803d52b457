/**
 * kernel-modules: /etc/modules-load.d/kubernetes.conf for boot, and the modules loaded now.
 * A module counts as present when the kernel shows it (loaded, or built in). Where modules
 * cannot be loaded (containers, kernels without loadable modules) the host gets a warning
 * naming the modules and the reason, and what it means for the cluster.
 */
import { MODULES_FILE, renderModulesLoad, requiredModules } from '../templates/kernel-modules.js';
import type { Host } from '../src/transport/host.js';
import { quote } from '../src/transport/quote.js';
import { kernelAtLeast } from '../src/util/kernel.js';
import { applyFiles, planFiles, type FilePayload } from '../src/kit/managed-files.js';
import type { Change, Phase } from '../src/kit/phase.js';

type Payload = FilePayload | { kind: 'load'; modules: readonly string[] };

/** Evidence that a built-in module is active when /sys/module has no entry for it. */
const FEATURE_PROBES: Readonly<Record<string, string>> = {
  br_netfilter: '[ -d /proc/sys/net/bridge ]',
  overlay: '{ while read -r a b; do [ "$b" = overlay ] || [ "$a" = overlay ] && exit 0; done < /proc/filesystems; false; }',
  ip_vs: '[ -e /proc/net/ip_vs ]',
  nf_conntrack: '[ -e /proc/sys/net/netfilter/nf_conntrack_max ]',
};

/** One line per module: `name present|missing`, then `loadable yes|no`. */
async function moduleState(host: Host, modules: readonly string[]): Promise<{ missing: string[]; loadable: boolean }> {
  // cheapest evidence first: a directory test and a builtin probe before any grep
  // the running kernel's release, read once with a builtin (a uname per module was a process each)
  const lines = [
    'read -r release < /proc/sys/kernel/osrelease',
    ...modules.map((m) => {
      const builtin = `grep -q ${quote(`/${m}.ko`)} /lib/modules/"$release"/modules.builtin 2>/dev/null`;
      const probe = FEATURE_PROBES[m] ? `${FEATURE_PROBES[m]} || ` : '';
      return `if [ -d /sys/module/${m} ] || ${probe}${builtin}; then echo "${m} present"; else echo "${m} missing"; fi`;
    }),
  ];
  lines.push(
    'if [ -d /lib/modules/"$release"/kernel ] && command -v modprobe >/dev/null; then echo "loadable yes"; else echo "loadable no"; fi',
  );
  const { stdout } = await host.check(lines.join('\n'));
  const missing = stdout
    .split('\n')
    .filter((l) => l.endsWith(' missing'))
    .map((l) => l.split(' ')[0]!);
  return { missing, loadable: /loadable yes/.test(stdout) };
}

export const kernelModulesPhase: Phase<Payload> = {
  name: 'kernel-modules',
  title: 'kernel modules (overlay, br_netfilter, IPVS)',
  description:
    'Writes /etc/modules-load.d/kubernetes.conf and loads overlay, br_netfilter and, for IPVS mode, ip_vs, ip_vs_rr, ip_vs_wrr, ip_vs_sh and nf_conntrack.',
  async plan(ctx, target) {
    const modules = requiredModules({
      ipvs: ctx.inventory.cluster.kubeProxy.mode === 'ipvs',
      kernelBefore419: !kernelAtLeast(target.facts.kernel, '4.19'),
      extra: ctx.inventory.preparation.kernelModules,
    });
    const changes: Change<Payload>[] = await planFiles(target.host, [
      { path: MODULES_FILE, content: renderModulesLoad(modules), mode: 0o644 },
    ]);
    const { missing, loadable } = await moduleState(target.host, modules);
    const warnings: string[] = [];
    if (missing.length && loadable && !target.facts.container) {
      changes.push({
        target: 'loaded kernel modules',
        summary: `modprobe ${missing.join(' ')}`,
        payload: { kind: 'load', modules: missing },
      });
    } else if (missing.length) {
      const reason = target.facts.container
        ? `inside a container (${target.facts.container}) modules come from the machine's kernel: load them there`
        : `this kernel (${target.facts.kernel}) has no loadable modules and does not have them built in`;
      const ipvs = missing.some((m) => m.startsWith('ip_vs')) ? '; kube-proxy in ipvs mode will fall back to iptables' : '';
      warnings.push(`cannot load ${missing.join(', ')}: ${reason}${ipvs}`);
    }
    return { changes, warnings };
  },
  async apply(_ctx, target, changes) {
    await applyFiles(target.host, changes);
    const load = changes.flatMap((c) => (c.payload.kind === 'load' ? c.payload.modules : []));
    if (load.length) await target.host.check(load.map((m) => `modprobe ${quote(m)}`).join('\n'));
  },
};
