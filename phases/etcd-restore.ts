/**
 * etcd-restore (`kubestrap etcd restore SNAPSHOT`, not part of apply): every control plane's
 * etcd rebuilt from one snapshot. On each: the control-plane static pods paused (their manifests
 * set aside), the current data moved to /var/lib/etcd.before-restore-<time>, the snapshot
 * restored by the cluster's own etcd image (its etcdctl, run by containerd) as this member of a
 * fresh cluster of all control planes, then the pods started again and the API awaited.
 */
import { randomBytes } from 'node:crypto';
import { isControlPlane, resolveHosts } from '../src/inventory/resolve.js';
import type { Inventory } from '../src/inventory/schema.js';
import { requireApi } from '../src/kube/admin-api.js';
import { nodePki } from '../src/pki/from-inventory.js';
import { quote, quoteArgv } from '../src/transport/quote.js';
import { parseVersion } from '../src/util/version.js';
import type { Phase } from '../src/kit/phase.js';
import { controlPlanes } from '../src/kit/hosts.js';
import { etcdImageTag } from '../templates/versions.js';
import { KUBERNETES_DIR } from '../templates/paths.js';

const SNAPSHOT_ON_NODE = '/var/lib/kubestrap/etcd-restore.db';
const PAUSED = `${KUBERNETES_DIR}/kubestrap-paused`;
const WAIT_MS = 240_000;
/**
 * Stopped for the restore and started again after it: etcd and the API server, and the
 * controller-manager and scheduler, whose caches and watches hold the state the restore undoes
 * (a disruption budget's count, a ReplicaSet's pods). Kubernetes' etcd documentation asks for
 * those and the kubelets to be restarted after a restore (the kubelets: kubelet-restart.ts).
 */
const PAUSED_COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];

const peerUrl = (address: string) => `https://${address.includes(':') ? `[${address}]` : address}:2380`;

/** name=peerURL of every control plane: the members of the restored cluster. */
function initialCluster(inv: Inventory): string {
  return resolveHosts(inv)
    .filter(isControlPlane)
    .map((h) => `${h.nodeName}=${peerUrl(nodePki(h).advertiseAddress)}`)
    .join(',');
}

export function etcdRestorePhase(snapshot: Buffer, label: string): Phase<null> {
  return {
    name: 'etcd-restore',
    title: 'etcd restored from the snapshot on every control plane',
    description:
      'Pauses etcd and the API server, keeps the current data aside, restores the snapshot with the cluster etcd image, starts both again.',
    selectHosts: controlPlanes,
    plan: async (ctx) => {
      // the snapshot would become a stacked etcd beside an API server that reads another one
      if (ctx.inventory.cluster.etcd.external)
        throw new Error(
          "the cluster's etcd is external (etcd.external): kubestrap does not run it, so it cannot restore it; restore the snapshot on the etcd members with etcdutl snapshot restore",
        );
      return {
        changes: [
          {
            target: '/var/lib/etcd',
            summary: `restore from ${label} (the current data is kept as /var/lib/etcd.before-restore-<time>)`,
            payload: null,
          },
        ],
      };
    },
    async apply(ctx, target) {
      const c = ctx.inventory.cluster;
      const image = `${c.imageRepository}/etcd:${etcdImageTag(parseVersion(c.kubernetesVersion)!, c.etcd.imageTag)}`;
      const self = nodePki(target.spec);
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      await target.host.writeFiles([{ path: SNAPSHOT_ON_NODE, content: snapshot, mode: 0o600 }]);
      // /var/lib/etcd is often a mount point of its own: its contents move, the directory stays
      const restored = `/var/lib/etcd.restored-${stamp}`;
      const restore = quoteArgv([
        'etcdctl',
        'snapshot',
        'restore',
        SNAPSHOT_ON_NODE,
        '--data-dir',
        restored,
        '--name',
        self.nodeName,
        '--initial-cluster',
        initialCluster(ctx.inventory),
        '--initial-advertise-peer-urls',
        peerUrl(self.advertiseAddress),
      ]);
      await target.host.check(
        [
          'set -e',
          `mkdir -p ${PAUSED}`,
          `for m in ${PAUSED_COMPONENTS.join(' ')}; do [ -f ${KUBERNETES_DIR}/manifests/$m.yaml ] && mv ${KUBERNETES_DIR}/manifests/$m.yaml ${PAUSED}/; done`,
          // the kubelet stops the pods whose manifests went: wait until etcd's ports are free
          `for i in $(seq 1 120); do ss -Hltn 'sport = :2379 or sport = :2380' | grep -q . || break; sleep 1; done`,
          `mkdir -p -m 0700 /var/lib/etcd /var/lib/etcd.before-restore-${stamp}`,
          `find /var/lib/etcd -mindepth 1 -maxdepth 1 -exec mv {} /var/lib/etcd.before-restore-${stamp}/ \\;`,
          [
            'ctr -n k8s.io run --rm --env ETCDCTL_API=3',
            '--mount type=bind,src=/var/lib,dst=/var/lib,options=rbind:rw',
            `${quote(image)} kubestrap-etcd-restore-${randomBytes(4).toString('hex')} ${restore}`,
          ].join(' '),
          `mv ${restored}/member /var/lib/etcd/member && rmdir ${restored}`,
          'chmod 700 /var/lib/etcd',
          `rm -f ${SNAPSHOT_ON_NODE}`,
          `mv ${PAUSED}/*.yaml ${KUBERNETES_DIR}/manifests/ && rmdir ${PAUSED}`,
        ].join('\n'),
        { timeoutMs: WAIT_MS },
      );
      await requireApi(target, 'the restore waits for its API server', (api) =>
        api.waitReady(
          WAIT_MS,
          `${target.spec.name}'s API server did not come back after the restore (journalctl -u kubelet; /var/log/pods/kube-system_etcd-*)`,
        ),
      );
    },
  };
}
