/**
 * One node's part of an upgrade or configuration roll: the host phases that follow the version
 * (containerd's sandbox image, the kubelet/kubectl packages), the kubelet's files and, on a
 * control plane, its static-pod manifests, planned against what the node holds.
 * Applying drains the node when its kubelet is restarted, writes, restarts, then waits until the
 * node runs what was written — each changed component's process on its new command line, the API
 * server live, the kubelet on its new flags and its Node Ready — and uncordons it.
 */
import { parse } from 'yaml';
import { requireService, startAndChangeTimes, startedAt } from '../facts/services.js';
import { isControlPlane } from '../inventory/resolve.js';
import type { Inventory } from '../inventory/schema.js';
import type { ApiClient } from '../kube/api-client.js';
import { drainNode } from '../kube/drain.js';
import { awaitRenewingLeader, LEADER_ELECTED } from '../kube/leader-election.js';
import { controlPlaneInput, ETCD_MANIFEST, kubeletFiles, kubeletInput, manifestFiles, readNodeState } from '../kube/node-files.js';
import { PROCESS_POLL_MS, restartEtcdMember, untilRunning } from '../kube/static-pods.js';
import type { Pod } from '../../templates/objects.js';
import { pollUntil } from '../util/poll.js';
import { cgroupProblem } from '../preflight/checks.js';
import { parseVersion } from '../util/version.js';
import { parseReported } from './version-policy.js';
import { applyFiles, planFiles, type DesiredFile, type FilePayload } from '../kit/managed-files.js';
import { apiServerKubeletClientBinding } from '../kube/cluster-objects.js';
import { buildClusterPki } from '../pki/cluster-pki.js';
import { clusterPki, nodePki } from '../pki/from-inventory.js';
import type { Change, HostTarget, Phase, PhaseContext } from '../kit/phase.js';
import { controlPlanePods, type ComponentName, type ControlPlanePods } from '../../templates/control-plane.js';
import { kubeletFlags } from '../../templates/kubelet.js';
import { kubeletRunsWith, runningProcesses, runsCommand, type RunningProcess } from '../kube/running.js';
import { KUBERNETES_DIR } from '../../templates/paths.js';

/**
 * Certificates and kubeconfigs a release shapes differently (kubelet.conf's server from 1.33,
 * apiserver-kubelet-client's group from #138957), by finding file → renewal name. A control
 * plane whose files are of the old shape gets them reissued from its CAs inside its roll.
 */
const MIGRATED_PKI: Readonly<Record<string, string>> = {
  'pki/apiserver-kubelet-client.crt': 'apiserver-kubelet-client',
  'kubelet.conf': 'kubelet.conf',
};
const API_SERVER_KUBELET_CLIENT = 'pki/apiserver-kubelet-client.crt';

async function migratedPki(inv: Inventory, target: HostTarget): Promise<DesiredFile[]> {
  const self = nodePki(target.spec);
  const { files } = await readNodeState(target);
  const existing = new Map([[self.nodeName, files]]);
  const nodes = [{ node: self, controlPlane: true }];
  const found = await buildClusterPki(clusterPki(inv), nodes, existing);
  const renew = new Set(found.findings.flatMap((f) => (f.status === 'mismatch' && MIGRATED_PKI[f.file] ? [MIGRATED_PKI[f.file]!] : [])));
  if (!renew.size) return [];
  const reissued = await buildClusterPki(clusterPki(inv), nodes, existing, { renew });
  const paths = new Set([...renew].flatMap((name) => (name.endsWith('.conf') ? [name] : [`pki/${name}.crt`, `pki/${name}.key`])));
  return (reissued.writes.get(self.nodeName) ?? [])
    .filter((f) => paths.has(f.path))
    .map((f) => ({ path: `${KUBERNETES_DIR}/${f.path}`, content: f.content, mode: f.mode, secret: f.mode === 0o600 }));
}

export type RollPayload =
  | { readonly step: 'host'; readonly phase: number; readonly change: Change }
  | { readonly step: 'file'; readonly file: FilePayload; readonly component?: ComponentName }
  | { readonly step: 'uncordon' };

/** Marks a Node kubestrap cordoned for a roll, so that a re-run after a failure uncordons it. */
export const DRAINED_ANNOTATION = 'kubestrap.dev/drained-for-roll';

const ROLL_WAIT_MS = 240_000;

/** The etcd membership a joined control plane was started with: kept, since it only matters at etcd's first start. */
function joinedEtcdCluster(manifest: string | undefined): Array<{ name: string; peerUrl: string }> | undefined {
  if (!manifest) return undefined;
  const command = (parse(manifest) as Pod).spec.containers[0]?.command ?? [];
  if (!command.includes('--initial-cluster-state=existing')) return undefined;
  const members = command.find((a) => a.startsWith('--initial-cluster='))?.slice('--initial-cluster='.length) ?? '';
  return members.split(',').map((m) => ({ name: m.slice(0, m.indexOf('=')), peerUrl: m.slice(m.indexOf('=') + 1) }));
}

/** The control plane's static pods as the inventory wants them on this node. */
async function desiredPods(inv: Inventory, target: HostTarget): Promise<ControlPlanePods> {
  const [state, etcd] = await Promise.all([readNodeState(target), target.host.readFiles([ETCD_MANIFEST])]);
  const members = joinedEtcdCluster(etcd.get(ETCD_MANIFEST)?.content.toString('utf8'));
  return controlPlanePods({ ...controlPlaneInput(inv, target.spec, state.caDirs), ...(members ? { etcdInitialCluster: members } : {}) });
}

export async function planNodeRoll(
  ctx: PhaseContext,
  target: HostTarget,
  hostPhases: readonly Phase[],
  access: RollAccess,
): Promise<Change<RollPayload>[]> {
  // the new kubelet would refuse this host: stop before anything on it changes
  const cgroup = cgroupProblem(ctx.inventory, target.facts);
  if (cgroup?.severity === 'error') throw new Error(`${target.spec.name} ${cgroup.message}`);
  const pods = isControlPlane(target.spec) ? await desiredPods(ctx.inventory, target) : undefined;
  const node = target.spec.nodeName;
  const leftCordoned = await access.withApi(
    async (api) =>
      ((await api.get({ apiVersion: 'v1', kind: 'Node', name: node })) as NodeView | undefined)?.metadata?.annotations?.[
        DRAINED_ANNOTATION
      ] !== undefined,
  );
  const manifests = pods ? manifestFiles(pods) : [];
  const pki = pods ? await migratedPki(ctx.inventory, target) : [];
  const [plans, files] = await Promise.all([
    Promise.all(hostPhases.map((p) => p.plan(ctx, target))),
    planFiles(target.host, [...pki, ...manifests, ...kubeletFiles(ctx.inventory, target.spec, target.facts.hostname)]),
  ]);
  return [
    ...plans.flatMap((plan, phase) =>
      plan.changes.map((change) => ({
        target: change.target,
        summary: change.summary,
        ...(change.detail ? { detail: change.detail } : {}),
        payload: { step: 'host', phase, change } as const,
      })),
    ),
    ...files.map((f) => {
      const component = manifests.find((m) => m.path === f.payload.file.path)?.component;
      return { ...f, payload: { step: 'file', file: f.payload, ...(component ? { component } : {}) } as const };
    }),
    ...(leftCordoned
      ? [{ target: `Node ${node}`, summary: 'uncordon (left cordoned by an interrupted roll)', payload: { step: 'uncordon' } as const }]
      : []),
  ];
}

interface NodeView {
  metadata?: { annotations?: Record<string, string> };
  status?: { conditions?: Array<{ type: string; status: string; lastHeartbeatTime?: string }>; nodeInfo?: { kubeletVersion?: string } };
}

export interface RollAccess {
  /** The API that drains, watches and uncordons this node. */
  readonly withApi: <T>(use: (api: ApiClient) => Promise<T>) => Promise<T>;
}

/**
 * The node's Node is Ready, with its kubelet at the cluster's version; after a kubelet restart,
 * Ready as reported by the new kubelet (a heartbeat from `since` on, both by the node's clock):
 * the condition the old kubelet left says nothing of the new one, which reports NotReady while
 * it starts its runtime and network checks.
 */
async function nodeReady(api: ApiClient, node: string, version: string, since: number): Promise<boolean> {
  const live = (await api.get({ apiVersion: 'v1', kind: 'Node', name: node })) as NodeView | undefined;
  const ready = live?.status?.conditions?.find((c) => c.type === 'Ready');
  const heartbeat = Date.parse(String(ready?.lastHeartbeatTime)) / 1000;
  return (
    ready?.status === 'True' &&
    (since === 0 || heartbeat >= since) &&
    parseReported(live?.status?.nodeInfo?.kubeletVersion)?.text === version
  );
}

const cordon = (api: ApiClient, node: string, on: boolean) =>
  api.patch(
    { apiVersion: 'v1', kind: 'Node', name: node },
    { metadata: { annotations: { [DRAINED_ANNOTATION]: on ? 'true' : null } }, spec: { unschedulable: on } },
  );

export async function applyNodeRoll(
  ctx: PhaseContext,
  target: HostTarget,
  changes: readonly Change<RollPayload>[],
  hostPhases: readonly Phase[],
  access: RollAccess,
): Promise<void> {
  const inv = ctx.inventory;
  const node = target.spec.nodeName;
  const version = parseVersion(inv.cluster.kubernetesVersion)!.text;
  const hostChanges = changes.flatMap((c) => (c.payload.step === 'host' ? [c.payload] : []));
  const fileChanges = changes.flatMap((c) => (c.payload.step === 'file' ? [{ ...c, payload: c.payload.file }] : []));
  const components = new Set(changes.flatMap((c) => (c.payload.step === 'file' && c.payload.component ? [c.payload.component] : [])));
  const kubeletChanged = hostChanges.length > 0 || fileChanges.some((c) => !c.payload.file.path.startsWith(`${KUBERNETES_DIR}/manifests/`));
  const pods = components.size ? await desiredPods(inv, target) : undefined;

  const isManifest = (c: Change<FilePayload>) => c.payload.file.path.startsWith(`${KUBERNETES_DIR}/manifests/`);

  // pods leave before the kubelet restarts under them (kubeadm's upgrade procedure)
  await access.withApi(async (api) => {
    // the API server's new kubelet client certificate has no group: its binding must exist first
    if (fileChanges.some((c) => c.payload.file.path === `${KUBERNETES_DIR}/${API_SERVER_KUBELET_CLIENT}`))
      await api.apply(apiServerKubeletClientBinding());
    if (kubeletChanged) {
      await cordon(api, node, true);
      await drainNode(api, node, (line) => {
        ctx.progress(target.spec.name, `drain: ${line}`);
      });
    }
  });
  // the kubelet's files and certificates before the packages: a new kubelet must never start on
  // flags its release removed (a package install may restart it)
  await applyFiles(
    target.host,
    fileChanges.filter((c) => !isManifest(c)),
  );
  for (const [index, phase] of hostPhases.entries()) {
    const mine = hostChanges.filter((c) => c.phase === index).map((c) => c.change);
    if (mine.length) await phase.apply(ctx, target, mine);
  }
  const etcdChange = fileChanges.filter((c) => c.payload.file.path === ETCD_MANIFEST);
  // etcd restarts on its new manifest behind its stopped API server (see restartEtcdMember)
  if (etcdChange.length) {
    const command = pods!.etcd!.spec.containers[0]!.command!;
    await restartEtcdMember(
      target,
      () =>
        applyFiles(target.host, etcdChange).then(() =>
          untilRunning(target, 'etcd does not run its new command line', (running) => runsCommand(running, 'etcd', command)),
        ),
      components.has('kube-apiserver'),
    );
  }
  await applyFiles(
    target.host,
    fileChanges.filter((c) => isManifest(c) && c.payload.file.path !== ETCD_MANIFEST),
  );
  if (kubeletChanged) {
    const kubelet = requireService(target.facts.initSystem, 'kubelet');
    await target.host.check(`${kubelet.enableNow()} && ${kubelet.restart()}`);
  }

  const flags = kubeletFlags(kubeletInput(inv, target.spec, target.facts.hostname));
  let running: RunningProcess[] = [];
  let kubeletPid: number | undefined;
  await pollUntil(
    async () => {
      running = await runningProcesses(target.host);
      const rolled = [...components].every((c) => runsCommand(running, c, pods![c]!.spec.containers[0]!.command!));
      // the same kubelet on two polls in a row: started, and not crash-looping on a bad flag
      const kubelet = kubeletRunsWith(running, flags);
      const steady = !kubeletChanged || (kubelet !== undefined && kubelet.pid === kubeletPid);
      kubeletPid = kubelet?.pid;
      return rolled && steady;
    },
    {
      timeoutMs: ROLL_WAIT_MS,
      intervalMs: PROCESS_POLL_MS,
      failure: () => {
        const behind = [...components].filter((c) => !runsCommand(running, c, pods![c]!.spec.containers[0]!.command!));
        const kubelet =
          kubeletChanged && !kubeletRunsWith(running, flags) ? ['the kubelet (not running with the flags of kubeadm-flags.env)'] : [];
        return `${target.spec.name} does not run its new configuration after ${ROLL_WAIT_MS / 1000} s: ${[...behind, ...kubelet].join(', ') || 'the kubelet keeps restarting'} (journalctl -u kubelet; /var/log/pods)`;
      },
    },
  );
  const kubeletStart = kubeletChanged ? startedAt((await target.host.check(startAndChangeTimes('kubelet', []))).stdout) : 0;
  await access.withApi(async (api) => {
    if (components.has('kube-apiserver') || components.has('etcd'))
      await api.waitReady(
        ROLL_WAIT_MS,
        `${target.spec.name}'s API server is not ready ${ROLL_WAIT_MS / 1000} s after the roll (/var/log/pods/kube-system_kube-apiserver-*)`,
      );
    await pollUntil(() => nodeReady(api, node, version, kubeletStart), {
      timeoutMs: ROLL_WAIT_MS,
      intervalMs: 1000,
      ignoreErrors: true,
      failure: () =>
        `Node ${node} is not Ready with kubelet ${version} ${ROLL_WAIT_MS / 1000} s after the roll (journalctl -u kubelet on ${target.spec.name})`,
    });
    // the next node is drained only once the cluster's controllers run again (see leader-election.ts)
    for (const component of LEADER_ELECTED.filter(
      (c) => components.has(c) && !pods![c].spec.containers[0]!.command!.includes('--leader-elect=false'),
    )) {
      const { holder, waitedMs } = await awaitRenewingLeader(api, component, ROLL_WAIT_MS);
      ctx.progress(target.spec.name, `${component}: led by ${holder} (its Lease renewed, seen after ${(waitedMs / 1000).toFixed(1)} s)`);
    }
    if (kubeletChanged || changes.some((c) => c.payload.step === 'uncordon')) await cordon(api, node, false);
  });
}
