/**
 * site-registry: in site registry mode (cluster.airgap.registry), one inventory host runs the
 * registry (templates/site-registry.ts) with a serving certificate from the cluster CA, and
 * holds every image of the bundle (airgap-images put them into its containerd); they are pushed
 * into the registry once, digests unchanged. Every host's containerd gets a certs.d entry for
 * each registry the manifests name, pointing at the site registry over TLS with the cluster CA,
 * so the kubelets pull the very names the manifests use. After the control plane's files (the
 * CA exists from then on), before any kubelet starts.
 */
import { isControlPlane, resolveHosts } from '../src/inventory/resolve.js';
import { clusterImages } from '../src/airgap/cluster-images.js';
import { parseImageRef } from '../src/airgap/image-ref.js';
import { goArchitecture } from '../src/airgap/bundle.js';
import { MEDIA_TYPES } from '../src/airgap/registry-client.js';
import { serviceControl, parseServiceStatus } from '../src/facts/services.js';
import { KUBERNETES_DIR } from '../src/kube/node-files.js';
import { generateKey, keyPairFromPem } from '../src/pki/keys.js';
import { inspectCertificate, issueCertificate, signedBy } from '../src/pki/x509.js';
import { quote } from '../src/transport/quote.js';
import { durationHours } from '../src/util/duration.js';
import { applyFiles, planFiles, type DesiredFile, type FilePayload } from '../src/workflow/managed-files.js';
import type { Change, HostTarget, Phase, PhaseContext } from '../src/workflow/phase.js';
import { CERTS_D, renderHostsToml } from '../templates/containerd.js';
import { SITE_REGISTRY_ETC, SITE_REGISTRY_UNIT, SITE_REGISTRY_UNIT_PATH, siteRegistryConfig, siteRegistryUnit } from '../templates/site-registry.js';

type Payload = FilePayload | { kind: 'certificate' } | { kind: 'start'; restart: boolean } | { kind: 'push'; image: string; remote: string };

const CA_CERT = `${KUBERNETES_DIR}/pki/ca.crt`;
const CA_KEY = `${KUBERNETES_DIR}/pki/ca.key`;
const TLS_CERT = `${SITE_REGISTRY_ETC}/tls.crt`;
const TLS_KEY = `${SITE_REGISTRY_ETC}/tls.key`;
const REGISTRY_CA = `${SITE_REGISTRY_ETC}/ca.crt`;
/** The CA file containerd trusts for the site registry, beside each hosts.toml. */
const HOSTS_CA = 'kubestrap-site-registry-ca.crt';
/** A serving certificate closer than this to its end is issued again. */
const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;
const ACCEPT = [MEDIA_TYPES.dockerManifest, MEDIA_TYPES.ociManifest].join(', ');

const siteOf = (ctx: PhaseContext) => ctx.inventory.cluster.airgap.registry!;
const isRegistryHost = (ctx: PhaseContext, target: HostTarget) => target.spec.name === siteOf(ctx).host;

/** The cluster CA (certificate, and key when `withKey`) from the first connected control plane that has it. */
async function clusterCa(ctx: PhaseContext, withKey: boolean): Promise<{ cert: string; key?: string } | undefined> {
  for (const cp of ctx.hosts.filter((h) => isControlPlane(h.spec))) {
    const files = await cp.host.readFiles(withKey ? [CA_CERT, CA_KEY] : [CA_CERT]);
    const cert = files.get(CA_CERT)?.content.toString('utf8');
    if (cert) return { cert, ...(withKey ? { key: files.get(CA_KEY)?.content.toString('utf8') } : {}) };
  }
  return undefined;
}

/** Each image the site registry serves: its name in the manifests and its path in the site registry. */
function servedImages(ctx: PhaseContext): Array<{ image: string; path: string; registry: string }> {
  const served = clusterImages(ctx.inventory, ctx.bundle!.calicoManifest).filter((i) => !i.roles.includes('site-registry'));
  const byPath = new Map<string, string>();
  return served.map(({ name }) => {
    const ref = parseImageRef(name);
    const path = `${ref.repository}:${ref.tag}`;
    const other = byPath.get(path);
    if (other && other !== name) throw new Error(`the site registry cannot serve both ${other} and ${name}: they share the path ${path}`);
    byPath.set(path, name);
    return { image: name, path, registry: ref.registry };
  });
}

/** The certs.d files of every host: each registry the manifests name, served by the site registry. */
function hostsFiles(ctx: PhaseContext, caCert: string): DesiredFile[] {
  const site = siteOf(ctx);
  const address = resolveHosts(ctx.inventory).find((h) => h.name === site.host)!.address;
  const registries = [...new Set(servedImages(ctx).map((i) => i.registry))];
  const mirrored = registries.filter((r) => r in ctx.inventory.cluster.containerRuntime.registryMirrors);
  if (mirrored.length) throw new Error(`containerRuntime.registryMirrors names ${mirrored.join(', ')}, which the site registry serves: remove those entries`);
  return registries.flatMap((registry) => [
    { path: `${CERTS_D}/${registry}/${HOSTS_CA}`, content: caCert, mode: 0o644 },
    { path: `${CERTS_D}/${registry}/hosts.toml`, content: renderHostsToml(registry, [`https://${address}:${site.port}`], `${CERTS_D}/${registry}/${HOSTS_CA}`), mode: 0o644 },
  ]);
}

/** Whether the registry's serving certificate is the CA's, names the host, and has time left. */
function certificateUsable(cert: string | undefined, caCert: string, address: string): boolean {
  if (!cert || !signedBy(cert, caCert)) return false;
  const facts = inspectCertificate(cert);
  const names = [...facts.dnsNames, ...facts.ips];
  return names.includes(address) && names.includes('127.0.0.1') && facts.notAfter.getTime() - Date.now() > RENEW_BEFORE_MS;
}

const registryUrl = (port: number) => `https://127.0.0.1:${port}`;
const CURL = `curl -fsS --max-time 10 --cacert ${quote(REGISTRY_CA)}`;

export const siteRegistryPhase: Phase<Payload> = {
  name: 'site-registry',
  title: 'site registry serving the bundle\'s images (site registry mode)',
  description: "With cluster.airgap.registry: runs the registry on its host with a serving certificate from the cluster CA, pushes the bundle's images into it once, and points every host's containerd at it.",
  selectHosts: (ctx) => (ctx.bundle && ctx.inventory.cluster.airgap.registry ? ctx.hosts : []),
  async plan(ctx, target) {
    const site = siteOf(ctx);
    const ca = await clusterCa(ctx, false);
    if (!ca) return { changes: [{ target: 'site registry', summary: 'set up once the cluster CA exists (after the control-plane phase)', payload: { kind: 'certificate' } }] };
    const changes: Change<Payload>[] = [...(await planFiles(target.host, hostsFiles(ctx, ca.cert)))];
    if (!isRegistryHost(ctx, target)) return { changes };
    const control = serviceControl(target.facts.initSystem);
    if (!control) throw new Error(`the site registry runs as a systemd or OpenRC service; ${target.spec.name} has neither`);
    const files = await planFiles(target.host, [
      { path: `${SITE_REGISTRY_ETC}/config.yml`, content: siteRegistryConfig(site.port), mode: 0o644 },
      { path: REGISTRY_CA, content: ca.cert, mode: 0o644 },
      { path: SITE_REGISTRY_UNIT_PATH, content: siteRegistryUnit(site.image), mode: 0o644 },
    ]);
    changes.push(...files);
    const existing = (await target.host.readFile(TLS_CERT))?.toString('utf8');
    const issue = !certificateUsable(existing, ca.cert, target.spec.address);
    if (issue) changes.push({ target: TLS_CERT, summary: `issue the registry's serving certificate (${target.spec.address}, 127.0.0.1) from the cluster CA`, payload: { kind: 'certificate' } });
    const status = parseServiceStatus((await target.host.exec(control.status(SITE_REGISTRY_UNIT))).stdout);
    const restart = status.active && (files.length > 0 || issue);
    if (!status.active || !status.enabled || restart) changes.push({ target: SITE_REGISTRY_UNIT, summary: restart ? 'restart (its files changed)' : 'enable and start', payload: { kind: 'start', restart } });
    // what the registry serves now, by digest, in one round trip (nothing while it is not running)
    const served = servedImages(ctx);
    const platform = `linux/${goArchitecture(target.facts.arch)}`;
    const digests = status.active
      ? (
          await target.host.exec(
            served
              .map(({ path }) => {
                const [repo, tag] = [path.slice(0, path.lastIndexOf(':')), path.slice(path.lastIndexOf(':') + 1)];
                return `printf '%s ' ${quote(path)}; ${CURL} -I -H ${quote(`Accept: ${ACCEPT}`)} ${quote(`${registryUrl(site.port)}/v2/${repo}/manifests/${tag}`)} 2>/dev/null | tr -d '\\r' | awk 'tolower($1) == "docker-content-digest:" {d = $2} END {print d}'`;
              })
              .join('\n'),
          )
        ).stdout
      : '';
    const have = new Map(digests.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
    const inBundle = new Map(ctx.bundle!.manifest.images.map((i) => [i.name, i]));
    for (const { image, path } of served) {
      if (have.get(path) === inBundle.get(image)!.platforms[platform]!.manifest.digest) continue;
      // ctr speaks plain HTTP to a loopback registry: it pushes to the address the other nodes pull from
      changes.push({ target: `site registry ${path}`, summary: `push ${image}`, payload: { kind: 'push', image, remote: `${target.spec.address}:${site.port}/${path}` } });
    }
    return { changes };
  },
  async apply(ctx, target, changes) {
    const site = siteOf(ctx);
    if (changes.some((c) => c.payload.kind === 'certificate') && isRegistryHost(ctx, target)) {
      const ca = await clusterCa(ctx, true);
      if (!ca?.key) throw new Error('the site registry needs the cluster CA and its key from a control plane, and no connected control plane has them');
      const certs = ctx.inventory.cluster.certificates;
      const key = await generateKey(certs.keyAlgorithm);
      const cert = issueCertificate({
        subject: { commonName: 'kubestrap-site-registry' },
        isCA: false,
        usages: ['server'],
        sans: [...new Set([target.spec.address, '127.0.0.1'])],
        validityHours: durationHours(certs.validity),
        publicKeyPem: key.publicKeyPem,
        issuer: { certPem: ca.cert, privateKey: keyPairFromPem(ca.key).privateKey },
        now: new Date(),
      });
      await target.host.writeFiles([
        { path: TLS_KEY, content: key.privateKeyPem, mode: 0o600 },
        { path: TLS_CERT, content: cert, mode: 0o644 },
      ]);
    }
    await applyFiles(target.host, changes);
    const control = serviceControl(target.facts.initSystem);
    for (const { payload } of changes) {
      if (payload.kind === 'start') await target.host.check(payload.restart ? `systemctl daemon-reload && ${control!.restart(SITE_REGISTRY_UNIT)}` : control!.enableNow(SITE_REGISTRY_UNIT));
    }
    const pushes = changes.flatMap((c) => (c.payload.kind === 'push' ? [c.payload] : []));
    if (!isRegistryHost(ctx, target) || (!pushes.length && !changes.some((c) => c.payload.kind === 'start'))) return;
    // polls until the registry answers (its start takes a moment), then pushes what it lacks; the port is a schema-checked integer
    const ping = `${registryUrl(site.port)}/v2/`;
    await target.host.check(`for i in $(seq 1 120); do ${CURL} -o /dev/null ${quote(ping)} 2>/dev/null && exit 0; sleep 0.5; done; echo ${quote(`the site registry did not answer on ${ping} within 60 s`)} >&2; journalctl -u ${quote(SITE_REGISTRY_UNIT)} -n 20 --no-pager >&2 || true; exit 1`);
    if (!pushes.length) return;
    ctx.progress(target.spec.name, `pushing ${pushes.length} images into the site registry`);
    await target.host.check(pushes.map((p) => `ctr -n k8s.io images push --tlscacert ${quote(REGISTRY_CA)} ${quote(p.remote)} ${quote(p.image)} >/dev/null`).join(' && '), { timeoutMs: 30 * 60_000 });
  },
};
