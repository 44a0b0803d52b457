/**
 * The health endpoints a control plane's components answer on the node itself, and one round
 * trip that asks them all: the kubelet's, and from 1.34 the controller-manager's and the
 * scheduler's, which kubeadm's init and join wait for too (WaitForAllControlPlaneComponents).
 */
import type { Host } from '../transport/host.js';
import { KUBEADM_CHANGES } from '../../templates/versions.js';

export interface LocalCheck {
  readonly name: string;
  readonly url: string;
}

export function localChecks(minor: number): LocalCheck[] {
  return [
    { name: 'kubelet', url: 'http://127.0.0.1:10248/healthz' },
    ...(KUBEADM_CHANGES.waitForAllComponents({ minor })
      ? [
          // the controller-manager has no /livez (#126945)
          { name: 'controller-manager', url: 'https://127.0.0.1:10257/healthz' },
          { name: 'scheduler', url: `https://127.0.0.1:10259/${KUBEADM_CHANGES.schedulerLivezReadyz({ minor }) ? 'livez' : 'healthz'}` },
        ]
      : []),
  ];
}

/** Each check's name → whether it answered 200, asked in one round trip. */
export async function askLocal(host: Host, checks: readonly LocalCheck[]): Promise<Map<string, boolean>> {
  // serving certificates are self-signed here (-k): the answer, not the identity, is what is asked
  const out = (
    await host.exec(
      checks.map((c) => `curl -fsSk -m 3 ${c.url} >/dev/null 2>&1 && echo "${c.name} ok" || echo "${c.name} down"`).join('\n'),
    )
  ).stdout;
  return new Map(checks.map((c) => [c.name, out.includes(`${c.name} ok`)]));
}
