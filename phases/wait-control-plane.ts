/**
 * wait-control-plane: the kubelet healthy (its 127.0.0.1:10248/healthz, asked on the node), then
 * the API server live: /livez through the SSH-forwarded API port with the admin credentials.
 * When it does not come up in time, the phase explains why: it gathers the kubelet journal,
 * containerd's and the kubelet's configuration, swap, port owners, pod logs and the clock, and
 * names the likely cause instead of just timing out.
 */
import { serviceOf } from '../src/facts/services.js';
import { API_PORT } from '../src/inventory/resolve.js';
import { diagnose, evidenceScript, formatDiagnosis, parseEvidence } from '../src/kube/diagnose.js';
import type { HostTarget, Phase, PhaseContext } from '../src/kit/phase.js';
import { parseVersion } from '../src/util/version.js';
import { askLocal, localChecks } from '../src/kube/component-health.js';
import { withApi } from '../src/kube/admin-api.js';
import { onLeader } from '../src/kit/hosts.js';
import { pollUntil } from '../src/util/poll.js';

const minorOf = (ctx: PhaseContext) => parseVersion(ctx.inventory.cluster.kubernetesVersion)!.minor;

export const CONTROL_PLANE_TIMEOUT_MS = Number(process.env.KUBESTRAP_CONTROL_PLANE_TIMEOUT_MS ?? 4 * 60_000);
const POLL_MS = 1000;

/** "kubelet ok|down, apiserver ok|down|no admin.conf[, controller-manager …, scheduler …]". */
async function health(target: HostTarget, minor: number): Promise<{ ok: boolean; state: string }> {
  const checks = localChecks(minor);
  const up = await askLocal(target.host, checks);
  const kubelet = up.get('kubelet') === true;
  const api = kubelet ? await apiLive(target) : 'not asked';
  const others = checks.slice(1).map((c) => `${c.name} ${up.get(c.name) ? 'ok' : 'down'}`);
  return {
    ok: [...up.values()].every(Boolean) && api === 'ok',
    state: [`kubelet ${kubelet ? 'ok' : 'down'}`, `apiserver ${api}`, ...others].join(', '),
  };
}

async function apiLive(target: HostTarget): Promise<string> {
  try {
    const answer = await withApi(target, async (api) => (await api.request('GET', '/livez')).status);
    return answer === undefined ? 'down (no admin.conf yet)' : answer === 200 ? 'ok' : `answers ${answer}`;
  } catch {
    return 'down';
  }
}

export const waitControlPlanePhase: Phase<null> = {
  name: 'wait-control-plane',
  title: 'kubelet, API server (and from 1.34 controller-manager, scheduler) healthy',
  description: 'Waits (up to 4 minutes) for the kubelet and the API server; explains why when they do not come up.',
  selectHosts: onLeader,
  async plan(ctx, target) {
    if ((await health(target, minorOf(ctx))).ok) return { changes: [] };
    return {
      changes: [
        {
          target: 'control plane',
          summary: `wait for the kubelet and the API server (up to ${Math.round(CONTROL_PLANE_TIMEOUT_MS / 1000)} s)`,
          payload: null,
        },
      ],
    };
  },
  async apply(ctx, target) {
    let last = { ok: false, state: '' };
    await pollUntil(async () => (last = await health(target, minorOf(ctx))).ok, {
      timeoutMs: CONTROL_PLANE_TIMEOUT_MS,
      intervalMs: POLL_MS,
      failure: async () => {
        const evidence = parseEvidence(
          (await target.host.exec(evidenceScript(API_PORT, serviceOf(target.facts.initSystem, 'kubelet')))).stdout,
        );
        const findings = diagnose({
          evidence,
          imageRepository: ctx.inventory.cluster.imageRepository,
          workstationTime: Math.floor(Date.now() / 1000),
        });
        return `the control plane did not come up in ${Math.round(CONTROL_PLANE_TIMEOUT_MS / 1000)} s (${last.state}). Likely causes:\n${formatDiagnosis(findings)}`;
      },
    });
  },
};
