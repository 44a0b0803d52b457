/** limits: open files, processes and locked memory for container workloads. */
import { applyFiles, planFiles, type FilePayload } from '../src/kit/managed-files.js';
import type { Phase } from '../src/kit/phase.js';

export const LIMITS_FILE = '/etc/security/limits.d/kubernetes.conf';

export function renderLimits(limits: { nofile: string; nproc: string; memlock: string }): string {
  const lines = ['# Managed by kubestrap: resource limits for Kubernetes nodes (preparation.limits).'];
  for (const [item, value] of Object.entries(limits)) lines.push(`* soft ${item} ${value}`, `* hard ${item} ${value}`);
  return `${lines.join('\n')}\n`;
}

export const limitsPhase: Phase<FilePayload> = {
  name: 'limits',
  title: 'resource limits (nofile, nproc, memlock)',
  description: `Writes ${LIMITS_FILE}.`,
  plan: async (ctx, target) => ({
    changes: await planFiles(target.host, [{ path: LIMITS_FILE, content: renderLimits(ctx.inventory.preparation.limits), mode: 0o644 }]),
  }),
  apply: (_ctx, target, changes) => applyFiles(target.host, changes),
};
