/**
 * kubelet-start: the kubelet enabled and running through the host's init system, restarted when
 * its configuration changed since it started (config.yaml, kubeadm-flags.env, the drop-in,
 * kubelet.conf). Static-pod manifests need no restart: the kubelet watches their directory.
 */
import { changedSinceStart, parseServiceStatus, requireService, startAndChangeTimes } from '../src/facts/services.js';
import type { Phase } from '../src/kit/phase.js';
import { KUBELET_DROP_IN_PATH } from '../templates/kubelet.js';
import { onLeader } from '../src/kit/hosts.js';
import { KUBELET_CONF, KUBELET_CONFIG, KUBELET_FLAGS } from '../templates/paths.js';

const CONFIG_FILES = [KUBELET_CONFIG, KUBELET_FLAGS, KUBELET_DROP_IN_PATH, KUBELET_CONF];

type Payload = { kind: 'enable-start' } | { kind: 'restart' };

export const kubeletStartPhase: Phase<Payload> = {
  name: 'kubelet-start',
  title: 'kubelet enabled and running with its current configuration',
  description: 'Enables and starts the kubelet, or restarts it when its configuration changed after it started.',
  selectHosts: onLeader,
  async plan(_ctx, target) {
    const kubelet = requireService(target.facts.initSystem, 'kubelet');
    const out = (await target.host.check(`${kubelet.status()}\n${startAndChangeTimes('kubelet', CONFIG_FILES)}`)).stdout;
    const status = parseServiceStatus(out);
    if (!status.enabled || !status.active) {
      return {
        changes: [{ target: 'service kubelet', summary: `${status.enabled ? '' : 'enable and '}start`, payload: { kind: 'enable-start' } }],
      };
    }
    if (changedSinceStart(out))
      return {
        changes: [{ target: 'service kubelet', summary: 'restart (configuration changed since it started)', payload: { kind: 'restart' } }],
      };
    return { changes: [] };
  },
  async apply(_ctx, target, changes) {
    const kubelet = requireService(target.facts.initSystem, 'kubelet');
    for (const { payload } of changes)
      await target.host.check(payload.kind === 'enable-start' ? kubelet.enableNow() : `${kubelet.enableNow()} && ${kubelet.restart()}`);
  },
};
