/**
 * site-registry-clients: in site registry mode, every host's containerd gets a certs.d entry
 * for each registry the manifests name, pointing at the site registry over TLS and trusting
 * the site registry's own CA (read from the registry's host, made by site-registry), so the
 * kubelets pull the very names the manifests use. After site-registry, before any kubelet starts.
 */
import { hostsFiles, SITE_CA_CERT } from '../src/airgap/site-registry.js';
import { applyFiles, planFiles, type FilePayload } from '../src/kit/managed-files.js';
import type { Phase } from '../src/kit/phase.js';

type Payload = FilePayload | { kind: 'pending' };

export const siteRegistryClientsPhase: Phase<Payload> = {
  name: 'site-registry-clients',
  title: "every node's containerd pointed at the site registry (site registry mode)",
  description:
    "With cluster.airgap.registry: writes containerd's certs.d entries on every host, so each registry the manifests name is pulled from the site registry, trusted through the site registry's CA.",
  selectHosts: (ctx) => (ctx.bundle && ctx.inventory.cluster.airgap.registry ? ctx.hosts : []),
  // the site CA is made on the registry's host by the phase before
  readsOtherHosts: true,
  async plan(ctx, target) {
    const name = ctx.inventory.cluster.airgap.registry!.host;
    const registry = ctx.hosts.find((h) => h.spec.name === name);
    if (!registry) throw new Error(`the site registry's host ${name} is not connected: its CA is what the nodes trust`);
    const caCert = (await registry.host.readFile(SITE_CA_CERT))?.toString('utf8');
    // a plan before the first apply: site-registry makes the CA
    if (!caCert)
      return {
        changes: [
          {
            target: 'site registry',
            summary: `point containerd at the site registry once ${name} has its CA (site-registry makes it)`,
            payload: { kind: 'pending' },
          },
        ],
      };
    return { changes: await planFiles(target.host, hostsFiles(ctx.inventory, ctx.bundle!, caCert)) };
  },
  async apply(ctx, target, changes) {
    if (changes.some((c) => c.payload.kind === 'pending'))
      throw new Error(
        `the site registry's host ${ctx.inventory.cluster.airgap.registry!.host} has no CA: its site-registry phase did not finish`,
      );
    await applyFiles(target.host, changes);
  },
};
