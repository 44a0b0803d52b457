/**
 * doctor-hosts (`kubestrap doctor`): each host's own state read in one round trip (swap, kernel
 * settings and modules, containerd and the kubelet, disks, clock, cgroups, the API server's
 * served certificate); findings only, nothing changes.
 */
import { hostFindings, hostQuestions, type HostQuestion } from '../src/doctor/host-checks.js';
import type { DoctorRun } from '../src/doctor/finding.js';
import type { Phase } from '../src/kit/phase.js';
import { probe } from '../src/transport/probe.js';
import { messageOf } from '../src/util/errors.js';

export function doctorHostsPhase(run: DoctorRun): Phase<null> {
  return {
    name: 'doctor-hosts',
    title: 'hosts examined',
    description: "reads each host's swap, kernel settings and modules, services, disks, clock and served certificate",
    async plan(ctx, target) {
      const context = { inventory: ctx.inventory, spec: target.spec, facts: target.facts };
      const questions = hostQuestions(context);
      try {
        const sent = Date.now();
        // only the questions asked are answered: the type says all for probe's sake
        const answers = await probe(target.host, questions as Record<HostQuestion, string>);
        const askedAt = { sent, received: Date.now() };
        run.findings.push(...hostFindings(context, answers, askedAt, run.kubestrap));
      } catch (err) {
        run.findings.push({
          severity: 'error',
          group: 'hosts',
          subject: target.spec.name,
          problem: `could not be examined: ${messageOf(err)}`,
          why: 'what is wrong on it stays unknown',
          fix: run.kubestrap(`facts --hosts ${target.spec.name}`),
        });
      }
      return { changes: [] };
    },
    apply: async () => undefined,
  };
}
