/**
 * parked-manifests (first in apply, certs renew and upgrade apply): a run that restarts etcd sets
 * its node's API server manifest aside, and puts it back after. When that run was killed in
 * between, the API server stays down until a run puts it back — this phase, on the next run of
 * any command touching the node: the manifest is restored and the API server waited for, or, when
 * the run had already written a new manifest, the set-aside copy is removed.
 */
import { requireApi } from '../src/kube/admin-api.js';
import { API_SERVER_MANIFEST, PARKED_API_SERVER } from '../src/kube/static-pods.js';
import type { Phase } from '../src/kit/phase.js';
import { controlPlanes } from '../src/kit/hosts.js';

type Payload = 'restore' | 'remove';

const RESTORE_WAIT_MS = 240_000;

export const parkedManifestsPhase: Phase<Payload> = {
  name: 'parked-manifests',
  title: 'API server manifests set aside by an interrupted run put back',
  description:
    'Puts back a kube-apiserver manifest that an interrupted run set aside to restart etcd behind a stopped API server, and waits for the API server; removes the set-aside copy when a newer manifest is already in place.',
  selectHosts: controlPlanes,
  async plan(_ctx, target) {
    const found = (
      await target.host.check(
        `if [ -e ${PARKED_API_SERVER} ]; then if [ -e ${API_SERVER_MANIFEST} ]; then echo remove; else echo restore; fi; fi`,
      )
    ).stdout.trim();
    if (found === 'restore')
      return {
        changes: [
          {
            target: API_SERVER_MANIFEST,
            summary: `restore (set aside as ${PARKED_API_SERVER} by an interrupted run: the API server is down)`,
            payload: 'restore',
          },
        ],
      };
    if (found === 'remove')
      return {
        changes: [
          {
            target: PARKED_API_SERVER,
            summary: `remove (set aside by an interrupted run; ${API_SERVER_MANIFEST} is newer)`,
            payload: 'remove',
          },
        ],
      };
    return { changes: [] };
  },
  async apply(_ctx, target, changes) {
    if (changes.some((c) => c.payload === 'remove')) await target.host.check(`rm -f ${PARKED_API_SERVER}`);
    if (!changes.some((c) => c.payload === 'restore')) return;
    await target.host.check(`mv -f ${PARKED_API_SERVER} ${API_SERVER_MANIFEST}`);
    // what follows (a roll planned through this API server, a renewal) needs it answering
    await requireApi(target, 'the restored API server is waited for as its admin', (api) =>
      api.waitReady(
        RESTORE_WAIT_MS,
        `${target.spec.name}'s restored API server is not ready after ${RESTORE_WAIT_MS / 1000} s (journalctl -u kubelet; /var/log/pods/kube-system_kube-apiserver-*)`,
      ),
    );
  },
};
