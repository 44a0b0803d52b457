/**
 * kubelet-start: the kubelet enabled and running through the host's init system, restarted when
 * its configuration changed since it started (config.yaml, kubeadm-flags.env, the drop-in,
 * kubelet.conf). Static-pod manifests need no restart: the kubelet watches their directory.
 */
import { changedSinceStart, parseServiceStatus, serviceControl, startAndChangeTimes } from '../src/facts/services.js';
import type { Phase } from '../src/workflow/phase.js';
import { KUBELET_CONFIG_PATH, KUBELET_DROP_IN_PATH, KUBELET_FLAGS_PATH } from '../templates/kubelet.js';
import { onFirstControlPlane } from './control-plane.js';

const CONFIG_FILES = [KUBELET_CONFIG_PATH, KUBELET_FLAGS_PATH, KUBELET_DROP_IN_PATH, '/etc/kubernetes/kubelet.conf'];

type Payload = { kind: 'enable-start' } | { kind: 'restart' };

export const kubeletStartPhase: Phase<Payload> = {
  name: 'kubelet-start',
  title: 'kubelet enabled and running with its current configuration',
  description: 'Enables and starts the kubelet, or restarts it when its configuration changed after it started.',
  selectHosts: onFirstControlPlane,
  async plan(_ctx, target) {
    const services = serviceControl(target.facts.initSystem);
    if (!services) throw new Error(`no init system kubestrap can drive (found ${target.facts.initSystem}): the kubelet needs a service manager to keep it running`);
    const out = (await target.host.check(`${services.status('kubelet')}\n${startAndChangeTimes('kubelet', CONFIG_FILES)}`)).stdout;
    const status = parseServiceStatus(out);
    if (!status.enabled || !status.active) {
      return { changes: [{ target: 'service kubelet', summary: `${status.enabled ? '' : 'enable and '}start`, payload: { kind: 'enable-start' } }] };
    }
    if (changedSinceStart(out)) return { changes: [{ target: 'service kubelet', summary: 'restart (configuration changed since it started)', payload: { kind: 'restart' } }] };
    return { changes: [] };
  },
  async apply(_ctx, target, changes) {
    const services = serviceControl(target.facts.initSystem)!;
    for (const { payload } of changes) {
      await target.host.check(payload.kind === 'enable-start' ? services.enableNow('kubelet') : `${services.enableNow('kubelet')} && ${services.restart('kubelet')}`);
    }
  },
};
