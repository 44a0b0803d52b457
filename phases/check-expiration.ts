/**
 * check-expiration (`certs check-expiration -i`): reads every host's certificates, kubeconfigs
 * and kubelet certificates in one round trip; the rows go to the caller, nothing changes.
 */
import type { Phase } from '../src/kit/phase.js';
import { readExpirationRows, type ExpirationRow } from '../src/pki/expiration.js';

export function checkExpirationPhase(rows: ExpirationRow[]): Phase<null> {
  return {
    name: 'check-expiration',
    title: 'certificates read',
    description: 'reads the certificates, kubeconfigs and kubelet certificates of every host',
    async plan(_ctx, target) {
      rows.push(...(await readExpirationRows(target.host, target.spec.name, new Date())));
      return { changes: [] };
    },
    apply: async () => undefined,
  };
}
