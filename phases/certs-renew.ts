/**
 * certs-renew (`kubestrap certs renew NAME|all -i FILE`, not part of apply): re-issues the named
 * certificates and kubeconfig client certificates on every control plane from its CAs, then
 * restarts what keeps them in memory — one control plane at a time, each back (its API server's
 * /readyz) before the next, so a cluster with several control planes keeps answering throughout.
 * etcd is not restarted: it reads its certificate files anew for every connection it accepts or
 * opens (since etcd 3.2, etcd-io/etcd#7829 and #9570 for IP-only SANs; kubestrap's oldest etcd is
 * 3.4), so it serves the renewed ones at once, and its API server need not stop for it.
 */
import { requireService } from '../src/facts/services.js';
import { serialQueue } from '../src/util/concurrency.js';
import { requireApi } from '../src/kube/admin-api.js';
import { buildClusterPki } from '../src/pki/cluster-pki.js';
import { clusterPki, nodePki } from '../src/pki/from-inventory.js';
import { restartStaticPods } from '../src/kube/static-pods.js';
import { applyFiles, planFiles, type FilePayload } from '../src/kit/managed-files.js';
import type { Change, HostTarget, Phase } from '../src/kit/phase.js';
import { controlPlanes } from '../src/kit/hosts.js';
import { readNodeState } from '../src/kube/node-files.js';
import { askLocal, localChecks } from '../src/kube/component-health.js';
import { pollUntil } from '../src/util/poll.js';
import { parseVersion } from '../src/util/version.js';
import { KUBERNETES_DIR } from '../templates/paths.js';

const RESTART_WAIT_MS = 180_000;

/** Which static pod (or the kubelet) reads a file of /etc/kubernetes. */
export function readerOf(path: string): 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kubelet' | undefined {
  const file = path.slice(KUBERNETES_DIR.length + 1);
  if (file.startsWith('pki/etcd/')) return 'etcd';
  if (file.startsWith('pki/')) return 'kube-apiserver';
  if (file === 'controller-manager.conf') return 'kube-controller-manager';
  if (file === 'scheduler.conf') return 'kube-scheduler';
  if (file === 'kubelet.conf') return 'kubelet';
  return undefined;
}

/** One host after another, across the phase's parallel hosts. */
const oneAtATime = serialQueue();

async function restartAndWait(minor: number, target: HostTarget, changes: readonly Change<FilePayload>[]): Promise<void> {
  const readers = new Set(changes.map((c) => readerOf(c.payload.file.path)).filter((r) => r !== undefined));
  await applyFiles(target.host, changes);
  await restartStaticPods(
    target,
    (['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const).filter((c) => readers.has(c)),
  );
  if (readers.has('kubelet')) await target.host.check(requireService(target.facts.initSystem, 'kubelet').restart());
  await requireApi(target, 'the renewal waits for its API server', (api) =>
    api.waitReady(
      RESTART_WAIT_MS,
      `${target.spec.name}'s API server did not come back within ${RESTART_WAIT_MS / 1000} s after the renewal (journalctl -u kubelet; /var/log/pods)`,
    ),
  );
  // what was restarted answers its own health check too (the kubelet's takes a few seconds), so
  // the next run finds nothing to wait for
  const checks = localChecks(minor);
  await pollUntil(async () => [...(await askLocal(target.host, checks)).values()].every(Boolean), {
    timeoutMs: RESTART_WAIT_MS,
    failure: () =>
      `${target.spec.name}: ${checks.map((c) => c.name).join(', ')} not healthy within ${RESTART_WAIT_MS / 1000} s after the renewal (journalctl -u kubelet; /var/log/pods)`,
  });
}

export function certsRenewPhase(names: ReadonlySet<string>): Phase<FilePayload> {
  return {
    name: 'certs-renew',
    title: 'certificates renewed on the control planes (one at a time)',
    description:
      'Re-issues the named certificates and kubeconfigs from the existing CAs and restarts the components that read them, one control plane at a time.',
    selectHosts: controlPlanes,
    async plan(ctx, target) {
      const { files } = await readNodeState(target);
      if (!files.has('pki/ca.key')) throw new Error(`${target.spec.name} has no cluster CA (pki/ca.key): is it set up?`);
      const self = nodePki(target.spec);
      const pki = await buildClusterPki(
        clusterPki(ctx.inventory),
        [{ node: self, controlPlane: true }],
        new Map([[self.nodeName, files]]),
        { renew: names },
      );
      const writes = (pki.writes.get(self.nodeName) ?? []).map((f) => ({
        path: `${KUBERNETES_DIR}/${f.path}`,
        content: f.content,
        mode: f.mode,
        secret: f.mode === 0o600,
      }));
      return { changes: await planFiles(target.host, writes) };
    },
    apply: (ctx, target, changes) =>
      oneAtATime(() => restartAndWait(parseVersion(ctx.inventory.cluster.kubernetesVersion)!.minor, target, changes)),
  };
}
