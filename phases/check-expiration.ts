/**
 * check-expiration (`certs check-expiration -i`): reads every host's certificates, kubeconfigs
 * and kubelet certificates in one round trip; the rows go to the caller, nothing changes.
 */
import type { Phase } from '../src/kit/phase.js';
import { EXPIRATION_FILES, expirationRowsFrom, KUBELET_CERTIFICATES, type ExpirationRow } from '../src/pki/expiration.js';
import { KUBERNETES_DIR } from '../templates/paths.js';

export function checkExpirationPhase(rows: ExpirationRow[]): Phase<null> {
  return {
    name: 'check-expiration',
    title: 'certificates read',
    description: 'reads the certificates, kubeconfigs and kubelet certificates of every host',
    async plan(_ctx, target) {
      const paths = [...EXPIRATION_FILES.map((p) => `${KUBERNETES_DIR}/${p}`), ...KUBELET_CERTIFICATES.map((k) => k.path)];
      const files = await target.host.readFiles(paths);
      const read = (path: string) => files.get(path.startsWith('/') ? path : `${KUBERNETES_DIR}/${path}`)?.content.toString('utf8');
      rows.push(...expirationRowsFrom(target.spec.name, read, new Date()));
      return { changes: [] };
    },
    apply: async () => undefined,
  };
}
