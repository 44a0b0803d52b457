/**
 * doctor-cluster (`kubestrap doctor`): the cluster through its API, as an admin, through the
 * first control plane whose API server answers: Nodes, system workloads, aggregated APIs,
 * admission webhooks. No API server answering is itself the finding. Changes nothing.
 */
import { clusterFindings } from '../src/doctor/cluster-checks.js';
import type { DoctorRun, Finding } from '../src/doctor/finding.js';
import { withApi } from '../src/kube/admin-api.js';
import { printable } from '../src/log/redact.js';
import { controlPlanes } from '../src/kit/hosts.js';
import type { Phase } from '../src/kit/phase.js';
import { messageOf } from '../src/util/errors.js';

export function doctorClusterPhase(run: DoctorRun): Phase<null> {
  return {
    name: 'doctor-cluster',
    title: 'cluster examined through its API',
    description: 'reads Nodes, system workloads, APIServices and admission webhooks through the API',
    // one control plane asks; the others stand in when its API server does not answer
    selectHosts: (ctx) => controlPlanes(ctx).slice(0, 1),
    async plan(ctx, first) {
      const tried: string[] = [];
      for (const target of [first, ...controlPlanes(ctx).filter((h) => h !== first)]) {
        try {
          const found = await withApi(target, (api) => clusterFindings(api));
          if (found) {
            run.findings.push(...found);
            return { changes: [] };
          }
          tried.push(`${target.spec.name}: no admin kubeconfig`);
        } catch (err) {
          tried.push(`${target.spec.name}: ${printable(messageOf(err))}`);
        }
      }
      const finding: Finding = {
        severity: 'error',
        group: 'cluster',
        subject: 'API server',
        problem: `answers through no control plane (${tried.join('; ')})`,
        why: 'nothing in the cluster can be read or changed: kubectl, controllers and kubelets are refused or time out',
        fix: `on ${first.spec.name}: crictl ps -a --name kube-apiserver; crictl logs --tail 20 $(crictl ps -a -q --name kube-apiserver | head -n 1)`,
      };
      run.findings.push(finding);
      return { changes: [] };
    },
    apply: async () => undefined,
  };
}
