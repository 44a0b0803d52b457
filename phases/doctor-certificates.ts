/**
 * doctor-certificates (`kubestrap doctor`): every host's certificates, kubeconfigs and kubelet
 * certificates read in one round trip (what check-expiration reads); a finding for each expired
 * or expiring one. Changes nothing.
 */
import { certificateFindings } from '../src/doctor/certificate-checks.js';
import type { DoctorRun } from '../src/doctor/finding.js';
import { isControlPlane } from '../src/inventory/resolve.js';
import type { Phase } from '../src/kit/phase.js';
import { readExpirationRows } from '../src/pki/expiration.js';
import { messageOf } from '../src/util/errors.js';

export function doctorCertificatesPhase(run: DoctorRun): Phase<null> {
  return {
    name: 'doctor-certificates',
    title: 'certificates examined',
    description: 'reads the certificates, kubeconfigs and kubelet certificates of every host and reports those expired or expiring',
    async plan(ctx, target) {
      const controlPlanes = new Set(ctx.hosts.filter((h) => isControlPlane(h.spec)).map((h) => h.spec.name));
      try {
        const rows = await readExpirationRows(target.host, target.spec.name, new Date());
        run.findings.push(...certificateFindings(rows, run.kubestrap, controlPlanes));
      } catch (err) {
        run.findings.push({
          severity: 'error',
          group: 'certificates',
          subject: target.spec.name,
          problem: `its certificates could not be read: ${messageOf(err)}`,
          why: 'a certificate about to expire there stays unnoticed',
          fix: run.kubestrap(`certs check-expiration --hosts ${target.spec.name}`),
        });
      }
      return { changes: [] };
    },
    apply: async () => undefined,
  };
}
