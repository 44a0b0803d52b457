/**
 * admin-kubeconfig: the cluster's admin kubeconfig and join command saved on the workstation
 * (mode 0600, in kubestrap's state directory), with cluster, user and context names that carry
 * the cluster's name and endpoint, so that merging it into ~/.kube/config clashes with nothing.
 * The join command is kubeadm's: the cluster carries every object kubeadm's join reads, so a
 * node with kubeadm joins with it (kubestrap's own join comes with the inventory join).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { writeLocalFile } from '../src/util/local-file.js';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { outsideServer } from '../src/pki/from-inventory.js';
import { joinCommand } from '../src/join/join-command.js';
import { isControlPlane, resolveHosts } from '../src/inventory/resolve.js';
import type { Inventory } from '../src/inventory/schema.js';
import { stateDir } from '../src/util/paths.js';
import type { Phase } from '../src/kit/phase.js';
import { currentJoinToken } from './cluster-objects.js';
import { withApi } from '../src/kube/admin-api.js';
import { onLeader } from '../src/kit/hosts.js';
import { ADMIN_CONF } from '../templates/paths.js';

interface Payload {
  readonly path: string;
  readonly content: string;
}

/** Where the workstation keeps this cluster's files, and the context name it uses. */
export function clusterFiles(inv: Inventory, server: string): { dir: string; admin: string; join: string; context: string } {
  const host = new URL(server).host.replace(/[^A-Za-z0-9.-]/g, '_');
  const dir = join(stateDir(), 'clusters', `${inv.cluster.name}-${host}`);
  return { dir, admin: join(dir, 'admin.conf'), join: join(dir, 'join-command'), context: `${inv.cluster.name}-admin@${host}` };
}

/** The saved files of the inventory's cluster, for the end of `apply`. */
export function savedClusterFiles(inv: Inventory): ReturnType<typeof clusterFiles> {
  const first = resolveHosts(inv).find(isControlPlane)!;
  return clusterFiles(inv, outsideServer(inv, first));
}

/** admin.conf with names of its own (the node's copy names everything "kubernetes"). */
export function renameKubeconfig(kubeconfig: string, context: string, server: string): string {
  const doc = parse(kubeconfig) as { clusters: Array<{ cluster: Record<string, string> }>; users: Array<{ user: Record<string, string> }> };
  const cluster = context.split('@')[1]!;
  const user = context.split('@')[0]!;
  return stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ cluster: { ...doc.clusters[0]!.cluster, server }, name: cluster }],
      contexts: [{ context: { cluster, user }, name: context }],
      'current-context': context,
      users: [{ name: user, user: doc.users[0]!.user }],
    },
    { lineWidth: 0, indentSeq: false },
  );
}

export const adminKubeconfigPhase: Phase<Payload> = {
  name: 'admin-kubeconfig',
  title: 'admin kubeconfig and join command saved on the workstation',
  description: "Saves the cluster's admin kubeconfig (own context name) and the current join command under ~/.kubestrap/clusters.",
  selectHosts: onLeader,
  async plan(ctx, target) {
    const server = outsideServer(ctx.inventory, target.spec);
    const files = clusterFiles(ctx.inventory, server);
    const wanted = await withApi(target, async (api, ca) => {
      const admin = (await target.host.readFiles([ADMIN_CONF])).get(ADMIN_CONF)!.content.toString('utf8');
      const token = await currentJoinToken(api, new Date());
      return [
        { path: files.admin, content: renameKubeconfig(admin, files.context, server) },
        ...(token ? [{ path: files.join, content: `${joinCommand({ program: 'kubeadm', server, token, caCertPem: ca })}\n` }] : []),
      ];
    });
    if (!wanted)
      return {
        changes: [
          {
            target: files.admin,
            summary: 'save once the control plane has an admin kubeconfig',
            payload: { path: files.admin, content: '' },
          },
        ],
      };
    const differs = (p: Payload) => !existsSync(p.path) || readFileSync(p.path, 'utf8') !== p.content;
    return { changes: wanted.filter(differs).map((p) => ({ target: `workstation ${p.path}`, summary: 'save (mode 0600)', payload: p })) };
  },
  async apply(_ctx, _target, changes) {
    for (const { payload } of changes) {
      if (!payload.content) throw new Error('the control plane has no admin kubeconfig yet; re-run apply');
      mkdirSync(join(payload.path, '..'), { recursive: true, mode: 0o700 });
      writeLocalFile(payload.path, payload.content, 0o600);
    }
  },
};
