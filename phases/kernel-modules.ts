/**
 * kernel-modules: /etc/modules-load.d/kubernetes.conf for boot, and the modules loaded now.
 * A module counts as present when the kernel shows it (loaded, or built in). Where modules
 * cannot be loaded (containers, kernels without loadable modules) the host gets a warning
 * naming the modules and the reason, and what it means for the cluster.
 */
import { MODULES_FILE, renderModulesLoad, requiredModules } from '../templates/kernel-modules.js';
import type { Host } from '../src/transport/host.js';
import { missingModules, modulePresenceScript } from '../src/facts/kernel-modules.js';
import { quote } from '../src/transport/quote.js';
import { kernelAtLeast } from '../src/util/kernel.js';
import { applyFiles, planFiles, type FilePayload } from '../src/kit/managed-files.js';
import type { Change, Phase } from '../src/kit/phase.js';

type Payload = FilePayload | { kind: 'load'; modules: readonly string[] };

/** One line per module: `name present|missing`, then `loadable yes|no`. */
async function moduleState(host: Host, modules: readonly string[]): Promise<{ missing: string[]; loadable: boolean }> {
  // the presence script has read the kernel's release into $release
  const loadable =
    'if [ -d /lib/modules/"$release"/kernel ] && command -v modprobe >/dev/null; then echo "loadable yes"; else echo "loadable no"; fi';
  const { stdout } = await host.check(`${modulePresenceScript(modules)}\n${loadable}`);
  const missing = missingModules(stdout.split('\n'));
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
