/**
 * kubelet-start: the kubelet enabled and running through the host's init system, restarted when
 * its configuration changed since it started (config.yaml, kubeadm-flags.env, the drop-in,
 * kubelet.conf). Static-pod manifests need no restart: the kubelet watches their directory.
 */
import { parseServiceStatus, serviceControl } from '../src/facts/services.js';
import { quote } from '../src/transport/quote.js';
import type { Phase } from '../src/workflow/phase.js';
import { KUBELET_CONFIG_PATH, KUBELET_DROP_IN_PATH, KUBELET_FLAGS_PATH } from '../templates/kubelet.js';
import { onFirstControlPlane } from './control-plane.js';

const CONFIG_FILES = [KUBELET_CONFIG_PATH, KUBELET_FLAGS_PATH, KUBELET_DROP_IN_PATH, '/etc/kubernetes/kubelet.conf'];

type Payload = { kind: 'enable-start' } | { kind: 'restart' };

/** Newest configuration file mtime and the kubelet's start time (seconds since the epoch). */
const TIMES = `pid=$(pidof kubelet | cut -d' ' -f1)
if [ -n "$pid" ]; then echo "started $(date -d "$(ps -o lstart= -p "$pid")" +%s)"; fi
stat -c 'mtime %Y' ${CONFIG_FILES.map(quote).join(' ')} 2>/dev/null
true`;

export const kubeletStartPhase: Phase<Payload> = {
  name: 'kubelet-start',
  title: 'kubelet enabled and running with its current configuration',
  description: 'Enables and starts the kubelet, or restarts it when its configuration changed after it started.',
  selectHosts: onFirstControlPlane,
  async plan(_ctx, target) {
    const services = serviceControl(target.facts.initSystem);
    if (!services) throw new Error(`no init system kubestrap can drive (found ${target.facts.initSystem}): the kubelet needs a service manager to keep it running`);
    const out = (await target.host.check(`${services.status('kubelet')}\n${TIMES}`)).stdout;
    const status = parseServiceStatus(out);
    const started = Number(/^started (\d+)$/m.exec(out)?.[1] ?? 0);
    const newest = Math.max(0, ...[...out.matchAll(/^mtime (\d+)$/gm)].map((m) => Number(m[1])));
    if (!status.enabled || !status.active) {
      return { changes: [{ target: 'service kubelet', summary: `${status.enabled ? '' : 'enable and '}start`, payload: { kind: 'enable-start' } }] };
    }
    // a process start time read through ps can be a second early (boot time is kept in whole
    // seconds): only a file written more than a second after the start means a changed config
    if (newest > started + 1) return { changes: [{ target: 'service kubelet', summary: 'restart (configuration changed since it started)', payload: { kind: 'restart' } }] };
    return { changes: [] };
  },
  async apply(_ctx, target, changes) {
    const services = serviceControl(target.facts.initSystem)!;
    for (const { payload } of changes) {
      await target.host.check(payload.kind === 'enable-start' ? services.enableNow('kubelet') : `${services.enableNow('kubelet')} && ${services.restart('kubelet')}`);
    }
  },
};
