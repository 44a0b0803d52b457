/**
 * wait-control-plane: the kubelet healthy (127.0.0.1:10248/healthz), then the API server live
 * (/livez on the node's secure port), polled from the node itself in one round trip per try.
 * When it does not come up in time, the phase explains why: it gathers the kubelet journal,
 * containerd's and the kubelet's configuration, swap, port owners, pod logs and the clock, and
 * names the likely cause instead of just timing out.
 */
import { diagnose, evidenceScript, formatDiagnosis, parseEvidence } from '../src/kube/diagnose.js';
import { API_BIND_PORT } from '../src/pki/from-inventory.js';
import type { Phase } from '../src/workflow/phase.js';
import { onFirstControlPlane } from './control-plane.js';

export const CONTROL_PLANE_TIMEOUT_MS = Number(process.env.KUBESTRAP_CONTROL_PLANE_TIMEOUT_MS ?? 4 * 60_000);
const POLL_MS = 1000;

/** Prints "kubelet ok|down" and "apiserver ok|down". */
const HEALTH = `curl -fsS -m 3 http://127.0.0.1:10248/healthz >/dev/null 2>&1 && echo 'kubelet ok' || echo 'kubelet down'
curl -fsSk -m 3 https://127.0.0.1:${API_BIND_PORT}/livez >/dev/null 2>&1 && echo 'apiserver ok' || echo 'apiserver down'`;

export const waitControlPlanePhase: Phase<null> = {
  name: 'wait-control-plane',
  title: 'kubelet and API server healthy',
  description: 'Waits (up to 4 minutes) for the kubelet and the API server; explains why when they do not come up.',
  selectHosts: onFirstControlPlane,
  async plan(_ctx, target) {
    const health = (await target.host.check(HEALTH)).stdout;
    if (/^kubelet ok$/m.test(health) && /^apiserver ok$/m.test(health)) return { changes: [] };
    return { changes: [{ target: 'control plane', summary: `wait for the kubelet and the API server (up to ${Math.round(CONTROL_PLANE_TIMEOUT_MS / 1000)} s)`, payload: null }] };
  },
  async apply(ctx, target) {
    const deadline = Date.now() + CONTROL_PLANE_TIMEOUT_MS;
    let last = '';
    while (Date.now() < deadline) {
      last = (await target.host.check(HEALTH)).stdout;
      if (/^kubelet ok$/m.test(last) && /^apiserver ok$/m.test(last)) return;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    const evidence = parseEvidence((await target.host.exec(evidenceScript(API_BIND_PORT))).stdout);
    const findings = diagnose({
      evidence,
      imageRepository: ctx.inventory.cluster.imageRepository,
      workstationTime: Math.floor(Date.now() / 1000),
    });
    const state = last.trim().split('\n').join(', ');
    throw new Error(`the control plane did not come up in ${Math.round(CONTROL_PLANE_TIMEOUT_MS / 1000)} s (${state}). Likely causes:\n${formatDiagnosis(findings)}`);
  },
};
