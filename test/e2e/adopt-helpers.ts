/**
 * What the adoption e2e tests share (#19): `kubestrap adopt` against a lab cluster kubeadm made,
 * commands on the adopted inventory, and the observations that show what apply left alone.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';
import { runCli, tempDir } from '../lab/helpers.js';
import type { LabHost } from '../lab/lab.js';
import type { ClusterLab } from './cluster-lab.js';
import { kubectl } from './kubectl.js';

import type { Report } from '../lab/report.js';

import { readReport } from '../lab/report.js';

export { readReport };
export const changesOf = (report: Report, host: string, phases: readonly string[]) =>
  report.hosts
    .find((h) => h.name === host)!
    .changes.filter((c) => phases.includes(c.phase))
    .map((c) => `${c.phase} ${c.target}: ${c.summary}`);

/** What plan shows on a control plane of a cluster kubeadm 1.20.2 made, stacked etcd or external: the explained differences. */
export const ADOPTED_CONTROL_PLANE_DIFFERENCES = [
  // kubestrap names the node IP and the socket's unix:// scheme (kubeadm 1.20 left both out)
  'control-plane /var/lib/kubelet/kubeadm-flags.env: update content (+1 -1 lines)',
  // kubeadm's package put the same drop-in under /usr/lib; kubestrap keeps its own copy in /etc
  'control-plane /etc/systemd/system/kubelet.service.d/10-kubeadm.conf: create, mode 0644',
  // kubeadm leaves kube-proxy's mode empty (iptables); kubestrap writes it out
  'cluster-objects ConfigMap kube-system/kube-proxy: update data.config.conf',
  // kubeadm gives CoreDNS no disruption budget: a drain may evict both replicas at once
  'cluster-objects PodDisruptionBudget kube-system/coredns: create',
  // kubeadm's init token carries no kubestrap description; kubestrap keeps its own
  'cluster-objects join token: create (valid 24h)',
];

/** kubeadm's check-expiration date format: Jan 02, 2006 15:04 MST. */
export function kubeadmDate(d: Date): string {
  const month = d.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${month} ${pad(d.getUTCDate())}, ${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
}

/** Adoption of `cluster` from a workstation of its own (its own KUBESTRAP_HOME and known_hosts). */
export function adoption(cluster: ClusterLab, kubeconfig: string) {
  const home = tempDir('e2e-adopt-home');
  const env = { KUBESTRAP_HOME: home };
  const knownHosts = join(home, 'known_hosts');
  const inventory = join(home, 'adopted.yaml');
  /** A kubestrap command on the adopted inventory. */
  const run = (args: readonly string[]) => runCli([...args, '-i', inventory, '--known-hosts', knownHosts], env);
  /** sha256 of every file under /etc/kubernetes on each node. */
  const kubernetesFiles = (nodes: readonly LabHost[]): Record<string, string> =>
    Object.fromEntries(
      nodes.map((n) => [n.name, cluster.lab.inside(n, 'find /etc/kubernetes -type f -print0 | sort -z | xargs -0 sha256sum')]),
    );
  /** The control plane's static pods' container IDs: a restart gives a pod a new one. */
  const controlPlaneContainers = async (): Promise<Record<string, string>> => {
    const pods = JSON.parse(await kubectl(kubeconfig, ['-n', 'kube-system', 'get', 'pods', '-l', 'tier=control-plane', '-o', 'json'])) as {
      items: Array<{ metadata: { name: string }; status: { containerStatuses?: Array<{ containerID?: string }> } }>;
    };
    return Object.fromEntries(pods.items.map((p) => [p.metadata.name, p.status.containerStatuses?.[0]?.containerID ?? '']));
  };
  return {
    home,
    env,
    inventory,
    adopt: (address: string, out: string, extra: readonly string[] = []) =>
      runCli(['adopt', '--control-plane', address, '--key', cluster.lab.clientKey, '--known-hosts', knownHosts, '-o', out, ...extra], env),
    run,
    kubernetesFiles,
    controlPlaneContainers,
    /**
     * Plan, apply, plan again: the plan shows `controlPlane` only the explained differences and no
     * host a change to a target `kept` names; apply leaves the files under /etc/kubernetes of
     * `nodes`, the control-plane containers and what `alsoKept` reads as they were; the second
     * plan changes nothing.
     */
    async expectApplyKeeps(
      nodes: readonly LabHost[],
      controlPlane: string,
      kept: (target: string) => boolean,
      alsoKept: () => string = () => '',
    ): Promise<void> {
      const filesBefore = kubernetesFiles(nodes);
      const containersBefore = await controlPlaneContainers();
      const alsoBefore = alsoKept();
      const planReport = join(home, 'plan.json');
      const plan = await run(['plan', '--report', planReport]);
      expect(plan.code, plan.stdout + plan.stderr).toBe(0);
      const report = readReport(planReport);
      expect(changesOf(report, controlPlane, ['control-plane', 'cluster-objects'])).toEqual(ADOPTED_CONTROL_PLANE_DIFFERENCES);
      for (const host of report.hosts)
        expect(
          host.changes.filter((c) => kept(c.target)),
          host.name,
        ).toEqual([]);
      const apply = await run(['apply', '--output', 'plain']);
      expect(apply.code, apply.stdout + apply.stderr).toBe(0);
      expect(kubernetesFiles(nodes)).toEqual(filesBefore);
      expect(await controlPlaneContainers()).toEqual(containersBefore);
      expect(alsoKept()).toBe(alsoBefore);
      const again = await run(['plan', '--output', 'plain']);
      expect(again.code, again.stdout + again.stderr).toBe(0);
      expect(again.stdout).toContain('Plan: no changes.');
    },
    /** `etcd backup` on the adopted inventory into the adoption's directory; the snapshot as Debian's etcdctl reads it. */
    async etcdBackup(name: string): Promise<{ revision: number; totalKey: number }> {
      const snapshot = join(home, name);
      const backup = await runCli(['etcd', 'backup', '--out', snapshot, '-i', inventory, '--known-hosts', knownHosts], env);
      expect(backup.code, backup.stdout + backup.stderr).toBe(0);
      return JSON.parse(
        execFileSync('etcdctl', ['snapshot', 'status', snapshot, '-w', 'json'], {
          env: { ...process.env, ETCDCTL_API: '3' },
          encoding: 'utf8',
        }),
      ) as { revision: number; totalKey: number };
    },
    /** A certificate's notAfter on the first control plane, as openssl prints it. */
    notAfter: (file: string) =>
      new Date(
        cluster.lab
          .inside(cluster.controlPlane, `openssl x509 -noout -enddate -in ${file}`)
          .trim()
          .replace(/^notAfter=/, ''),
      ),
  };
}
