/**
 * `kubestrap etcd backup|restore`: a snapshot of the cluster's etcd saved on the workstation
 * with its checksum, and every control plane's etcd rebuilt from one (phases/etcd-restore.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { writeLocalFile, writeLocalFileFrom } from '../util/local-file.js';
import { basename } from 'node:path';
import { Command } from 'commander';
import { etcdRestorePhase } from '../../phases/etcd-restore.js';
import { kubeletRestartPhase } from '../../phases/kubelet-restart.js';
import { EtcdClient } from '../etcd/client.js';
import { openExternalEtcd } from '../etcd/external.js';
import type { ApiClient } from '../kube/api-client.js';
import { readKubeadmConfig } from '../kube/kubeadm-config.js';
import type { Host } from '../transport/host.js';
import { addClusterAccessOptions, withControlPlane, type ClusterAccessOptions } from './cluster-access.js';
import { UsageError } from './errors.js';
import { confirmDestructive } from './prompt.js';
import { reportOutcome, runInSession } from './run-phases.js';
import { addHostOptions, type HostOptions } from './session.js';
import { messageOf } from '../util/errors.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** The cluster's etcd as its API server reaches it: the external one kubeadm-config names, or the control plane's stacked member. */
async function clusterEtcd(api: ApiClient, host: Host): Promise<EtcdClient> {
  const data = (await api.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'kube-system', name: 'kubeadm-config' }))?.data as
    Record<string, string> | undefined;
  const etcd = data ? readKubeadmConfig(data).etcd : undefined;
  if (etcd?.kind === 'external') {
    return openExternalEtcd(host, etcd).catch((err: unknown) => {
      throw new Error(`the cluster's external etcd, from ${host.name}: ${messageOf(err)}`, { cause: err });
    });
  }
  const stacked = await EtcdClient.onControlPlane(host);
  if (!stacked)
    throw new Error(
      `${host.name} has no etcd client certificate (/etc/kubernetes/pki/apiserver-etcd-client.crt): is it a control plane with stacked etcd?`,
    );
  return stacked;
}

function backupCommand(): Command {
  return addClusterAccessOptions(
    new Command('backup').description("save a snapshot of the cluster's etcd on this machine, with a sha256 file beside it"),
  )
    .option('--out <file>', 'where to write the snapshot', `etcd-snapshot-${new Date().toISOString().replace(/[:.]/g, '-')}.db`)
    .addHelpText('after', '\nExample:\n  kubestrap etcd backup -i cluster.yaml --out backups/before-upgrade.db')
    .action(async (options: ClusterAccessOptions & { out: string }) => {
      await withControlPlane('etcd-backup', options, async ({ api, host }) => {
        const etcd = await clusterEtcd(api, host);
        try {
          // every Secret of the cluster is in it: 0600 from the first byte, whatever was at the path;
          // streamed to disk as it arrives, hashed on the way (a database of any size)
          const hash = createHash('sha256');
          let bytes = 0;
          await writeLocalFileFrom(options.out, 0o600, async (write) => {
            bytes = await etcd.snapshot((blob) => {
              hash.update(blob);
              write(blob);
            });
          });
          const digest = hash.digest('hex');
          writeLocalFile(`${options.out}.sha256`, `${digest}  ${basename(options.out)}\n`, 0o644);
          console.log(
            `etcd snapshot of ${host.name}: ${options.out} (${bytes} bytes, sha256 ${digest}; checksum in ${options.out}.sha256)`,
          );
        } finally {
          await etcd.close();
        }
      });
    });
}

interface RestoreOptions extends HostOptions {
  yes?: boolean;
}

/** The snapshot, checked against its .sha256 file when there is one. */
function readSnapshot(file: string): Buffer {
  if (!existsSync(file)) throw new UsageError(`${file}: no such file`);
  const data = readFileSync(file);
  const sumFile = `${file}.sha256`;
  if (existsSync(sumFile)) {
    const expected = readFileSync(sumFile, 'utf8').split(/\s+/)[0];
    if (expected !== sha256(data))
      throw new UsageError(
        `${file}: sha256 ${sha256(data)} does not match ${sumFile} (${expected}): the snapshot is damaged or not the one saved`,
      );
  }
  return data;
}

function restoreCommand(): Command {
  return addHostOptions(new Command('restore'))
    .description(
      "rebuild every control plane's etcd from a snapshot (the current data is kept aside on each); the cluster goes back to the snapshot's state",
    )
    .argument('<snapshot>', 'a file written by kubestrap etcd backup (checked against its .sha256 file)')
    .option('--yes', 'do not ask for confirmation')
    .addHelpText('after', '\nExample:\n  kubestrap etcd restore backups/before-upgrade.db -i cluster.yaml')
    .action(async (file: string, options: RestoreOptions) => {
      const snapshot = readSnapshot(file);
      if (options.hosts) throw new UsageError('etcd restore works on every control plane at once: leave out --hosts');
      if (
        !(await confirmDestructive(`Replace the cluster's etcd data with ${file}?`, options.yes, 'etcd restore replaces the cluster state'))
      )
        return void (process.exitCode = 1);
      process.exitCode = await runInSession(
        'etcd-restore',
        options,
        [etcdRestorePhase(snapshot, basename(file)), kubeletRestartPhase],
        'apply',
        options.output,
        (result, session, print) => reportOutcome(result, session, print),
      );
    });
}

export function etcdCommand(): Command {
  return new Command('etcd').description("the cluster's etcd: backup, restore").addCommand(backupCommand()).addCommand(restoreCommand());
}
