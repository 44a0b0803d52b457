/**
 * doctor-etcd (`kubestrap doctor`): the etcd member of each control plane answers, knows a leader
 * and raises no alarm. An external etcd (cluster.etcd.external) is not the control planes' to
 * examine. Changes nothing.
 */
import { etcdFindings } from '../src/doctor/etcd-checks.js';
import type { DoctorRun } from '../src/doctor/finding.js';
import { controlPlanes } from '../src/kit/hosts.js';
import type { Phase } from '../src/kit/phase.js';

export function doctorEtcdPhase(run: DoctorRun): Phase<null> {
  return {
    name: 'doctor-etcd',
    title: 'etcd examined',
    description: "asks each control plane's etcd member for its status: answering, a leader known, no alarm",
    selectHosts: (ctx) => (ctx.inventory.cluster.etcd.external ? [] : controlPlanes(ctx)),
    async plan(_ctx, target) {
      run.findings.push(...(await etcdFindings(target.host, target.spec.name, run.kubestrap)));
      return { changes: [] };
    },
    apply: async () => undefined,
  };
}
