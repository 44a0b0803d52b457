/**
 * site-registry: in site registry mode (cluster.airgap.registry), the registry's host runs the
 * registry (templates/site-registry.ts) with a serving certificate from a CA of its own (made
 * here, its key kept on this host only), and holds every image of the bundle (airgap-images put
 * them into its containerd); they are pushed into the registry once, digests unchanged. The
 * nodes are pointed at it by site-registry-clients, the next phase. Before any kubelet starts.
 */
import { goArchitecture } from '../src/airgap/architectures.js';
import { MEDIA_TYPES } from '../src/airgap/registry-client.js';
import {
  issueServingCertificate,
  issueSiteCa,
  REGISTRY_CA,
  servedImages,
  servingCertificateUsable,
  SITE_CA_CERT,
  SITE_CA_KEY,
  siteCaUsable,
  TLS_CERT,
  TLS_KEY,
} from '../src/airgap/site-registry.js';
import { parseServiceStatus, requireService } from '../src/facts/services.js';
import { quote } from '../src/transport/quote.js';
import { applyFiles, planFiles, type DesiredFile, type FilePayload } from '../src/kit/managed-files.js';
import type { Change, HostTarget, Phase, PhaseContext } from '../src/kit/phase.js';
import {
  SITE_REGISTRY_ETC,
  SITE_REGISTRY_UNIT,
  SITE_REGISTRY_UNIT_PATH,
  siteRegistryConfig,
  siteRegistryUnit,
} from '../templates/site-registry.js';

type Payload =
  | FilePayload
  | { kind: 'certificate'; newCa: boolean }
  | { kind: 'start'; restart: boolean }
  | { kind: 'push'; image: string; remote: string };

const ACCEPT = [MEDIA_TYPES.dockerManifest, MEDIA_TYPES.ociManifest].join(', ');
const siteOf = (ctx: PhaseContext) => ctx.inventory.cluster.airgap.registry!;
const registryUrl = (port: number) => `https://127.0.0.1:${port}`;
const CURL = `curl -fsS --max-time 10 --cacert ${quote(REGISTRY_CA)}`;

/** One round trip: the digest the registry serves for each path (nothing while it is not running). */
async function servedDigests(target: HostTarget, port: number, paths: readonly string[]): Promise<Map<string, string>> {
  const lines = paths.map((path) => {
    const [repo, tag] = [path.slice(0, path.lastIndexOf(':')), path.slice(path.lastIndexOf(':') + 1)];
    const url = `${registryUrl(port)}/v2/${repo}/manifests/${tag}`;
    return [
      `printf '%s ' ${quote(path)}`,
      `${CURL} -I -H ${quote(`Accept: ${ACCEPT}`)} ${quote(url)} 2>/dev/null | tr -d '\\r' |`,
      `  awk 'tolower($1) == "docker-content-digest:" {d = $2} END {print d}'`,
    ].join('\n');
  });
  const out = (await target.host.exec(lines.join('\n'))).stdout;
  return new Map(
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ') as [string, string]),
  );
}

export const siteRegistryPhase: Phase<Payload> = {
  name: 'site-registry',
  title: "site registry serving the bundle's images (site registry mode)",
  description:
    "With cluster.airgap.registry: runs the registry on its host with a serving certificate from the site registry's own CA, and pushes the bundle's images into it once.",
  selectHosts: (ctx) =>
    ctx.bundle && ctx.inventory.cluster.airgap.registry ? ctx.hosts.filter((h) => h.spec.name === siteOf(ctx).host) : [],
  async plan(ctx, target) {
    const site = siteOf(ctx);
    const registry = requireService(target.facts.initSystem, SITE_REGISTRY_UNIT);
    const have = await target.host.readFiles([SITE_CA_CERT, SITE_CA_KEY, TLS_CERT]);
    const text = (path: string) => have.get(path)?.content.toString('utf8');
    const caCert = text(SITE_CA_CERT);
    const newCa = !siteCaUsable(caCert, text(SITE_CA_KEY));
    const desired: DesiredFile[] = [
      { path: `${SITE_REGISTRY_ETC}/config.yml`, content: siteRegistryConfig(site.port), mode: 0o644 },
      { path: SITE_REGISTRY_UNIT_PATH, content: siteRegistryUnit(site.image), mode: 0o644 },
      // with a new CA, the certificate change writes its copy
      ...(newCa ? [] : [{ path: REGISTRY_CA, content: caCert!, mode: 0o644 }]),
    ];
    const files = await planFiles(target.host, desired);
    const changes: Change<Payload>[] = [...files];
    const issue = newCa || !servingCertificateUsable(text(TLS_CERT), caCert, target.spec.address);
    if (newCa)
      changes.push({
        target: SITE_CA_CERT,
        summary: "create the site registry's own CA (its key stays on this host; the cluster CA is never used for the registry)",
        payload: { kind: 'certificate', newCa: true },
      });
    else if (issue)
      changes.push({
        target: TLS_CERT,
        summary: `issue the registry's serving certificate (${target.spec.address}, 127.0.0.1) from the site registry's CA`,
        payload: { kind: 'certificate', newCa: false },
      });
    const status = parseServiceStatus((await target.host.exec(registry.status())).stdout);
    const restart = status.active && (files.length > 0 || issue);
    if (!status.active || !status.enabled || restart)
      changes.push({
        target: SITE_REGISTRY_UNIT,
        summary: restart ? 'restart (its files changed)' : 'enable and start',
        payload: { kind: 'start', restart },
      });
    const served = servedImages(ctx.inventory, ctx.bundle!);
    const registryHas = status.active
      ? await servedDigests(
          target,
          site.port,
          served.map((s) => s.path),
        )
      : new Map<string, string>();
    const platform = `linux/${goArchitecture(target.facts.arch)}`;
    const inBundle = new Map(ctx.bundle!.manifest.images.map((i) => [i.name, i]));
    for (const { image, path } of served) {
      if (registryHas.get(path) === inBundle.get(image)!.platforms[platform]!.manifest.digest) continue;
      // ctr speaks plain HTTP to a loopback registry: it pushes to the address the other nodes pull from
      changes.push({
        target: `site registry ${path}`,
        summary: `push ${image}`,
        payload: { kind: 'push', image, remote: `${target.spec.address}:${site.port}/${path}` },
      });
    }
    return { changes };
  },
  async apply(ctx, target, changes) {
    const site = siteOf(ctx);
    const certificate = changes.find((c) => c.payload.kind === 'certificate')?.payload as { newCa: boolean } | undefined;
    if (certificate) {
      const kept = certificate.newCa ? undefined : await target.host.readFiles([SITE_CA_CERT, SITE_CA_KEY]);
      const ca = kept
        ? { cert: kept.get(SITE_CA_CERT)!.content.toString('utf8'), key: kept.get(SITE_CA_KEY)!.content.toString('utf8') }
        : await issueSiteCa(ctx.inventory);
      const serving = await issueServingCertificate(ctx.inventory, ca, target.spec.address);
      await target.host.writeFiles([
        ...(certificate.newCa
          ? [
              { path: SITE_CA_KEY, content: ca.key, mode: 0o600 },
              { path: SITE_CA_CERT, content: ca.cert, mode: 0o644 },
              { path: REGISTRY_CA, content: ca.cert, mode: 0o644 },
            ]
          : []),
        { path: TLS_KEY, content: serving.key, mode: 0o600 },
        { path: TLS_CERT, content: serving.cert, mode: 0o644 },
      ]);
    }
    await applyFiles(target.host, changes);
    const registry = requireService(target.facts.initSystem, SITE_REGISTRY_UNIT);
    for (const { payload } of changes)
      if (payload.kind === 'start') await target.host.check(payload.restart ? registry.reloadAndRestart() : registry.enableNow());
    const pushes = changes.flatMap((c) => (c.payload.kind === 'push' ? [c.payload] : []));
    if (!pushes.length && !changes.some((c) => c.payload.kind === 'start')) return;
    // polls until the registry answers (its start takes a moment), then pushes what it lacks; the port is a schema-checked integer
    const ping = `${registryUrl(site.port)}/v2/`;
    await target.host.check(
      [
        `for i in $(seq 1 120); do ${CURL} -o /dev/null ${quote(ping)} 2>/dev/null && exit 0; sleep 0.5; done`,
        `echo ${quote(`the site registry did not answer on ${ping} within 60 s`)} >&2`,
        `${registry.logs(20)} >&2 || true`,
        'exit 1',
      ].join('\n'),
    );
    if (!pushes.length) return;
    ctx.progress(target.spec.name, `pushing ${pushes.length} images into the site registry`);
    await target.host.check(
      pushes
        .map((p) => `ctr -n k8s.io images push --tlscacert ${quote(REGISTRY_CA)} ${quote(p.remote)} ${quote(p.image)} >/dev/null`)
        .join(' && '),
      { timeoutMs: 30 * 60_000 },
    );
  },
};
