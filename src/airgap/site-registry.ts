/**
 * What the site registry serves and how nodes trust it (cluster.airgap.registry): the images
 * it holds under the paths the manifests name, the certs.d entries that point every node's
 * containerd at it, and its PKI. The registry has a CA of its own, never the cluster CA: the
 * cluster CA is the API server's trust anchor for every kubeconfig, and a registry (a
 * third-party network service) holding a certificate from it would hold a key API clients
 * accept. containerd trusts the site CA per registry, through each hosts.toml's `ca`.
 */
import type { Inventory } from '../inventory/schema.js';
import { resolveHosts } from '../inventory/resolve.js';
import { generateKey, keyPairFromPem } from '../pki/keys.js';
import { inspectCertificate, issueCertificate, keyMatches, signedBy } from '../pki/x509.js';
import { durationHours } from '../util/duration.js';
import { parseImageRef } from '../util/image-ref.js';
import { CERTS_D, renderHostsToml } from '../../templates/containerd.js';
import { SITE_REGISTRY_ETC } from '../../templates/site-registry.js';
import { clusterImages } from './cluster-images.js';
import type { OpenBundle } from '../kit/bundle.js';

/** The site CA, on the registry's host only, outside what the registry container mounts. */
export const SITE_CA_CERT = '/etc/kubestrap/registry-ca/ca.crt';
export const SITE_CA_KEY = '/etc/kubestrap/registry-ca/ca.key';
/** The serving certificate and key, and the CA's certificate for the host's own readiness checks (mounted into the registry). */
export const TLS_CERT = `${SITE_REGISTRY_ETC}/tls.crt`;
export const TLS_KEY = `${SITE_REGISTRY_ETC}/tls.key`;
export const REGISTRY_CA = `${SITE_REGISTRY_ETC}/ca.crt`;
/** The CA file containerd trusts for the site registry, beside each hosts.toml. */
const HOSTS_CA = 'kubestrap-site-registry-ca.crt';
/** A certificate closer than this to its end is issued again. */
const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

export interface ServedImage {
  /** As the manifests name it. */
  readonly image: string;
  /** repository:tag in the site registry. */
  readonly path: string;
  readonly registry: string;
}

/** Each image the site registry serves: its name in the manifests and its path in the site registry. */
export function servedImages(inv: Inventory, bundle: Pick<OpenBundle, 'calicoManifest'>): ServedImage[] {
  const served = clusterImages(inv, bundle.calicoManifest).filter((i) => !i.roles.includes('site-registry'));
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

/** The registry's address as the nodes reach it. */
export function siteRegistryAddress(inv: Inventory): string {
  return resolveHosts(inv).find((h) => h.name === inv.cluster.airgap.registry!.host)!.address;
}

/** The certs.d files of every host: each registry the manifests name, served by the site registry over TLS with the site CA. */
export function hostsFiles(
  inv: Inventory,
  bundle: Pick<OpenBundle, 'calicoManifest'>,
  siteCaCert: string,
): Array<{ path: string; content: string; mode: number }> {
  const site = inv.cluster.airgap.registry!;
  const address = siteRegistryAddress(inv);
  const registries = [...new Set(servedImages(inv, bundle).map((i) => i.registry))];
  const mirrored = registries.filter((r) => r in inv.cluster.containerRuntime.registryMirrors);
  if (mirrored.length)
    throw new Error(`containerRuntime.registryMirrors names ${mirrored.join(', ')}, which the site registry serves: remove those entries`);
  return registries.flatMap((registry) => [
    { path: `${CERTS_D}/${registry}/${HOSTS_CA}`, content: siteCaCert, mode: 0o644 },
    {
      path: `${CERTS_D}/${registry}/hosts.toml`,
      content: renderHostsToml(registry, [`https://${address}:${site.port}`], `${CERTS_D}/${registry}/${HOSTS_CA}`),
      mode: 0o644,
    },
  ]);
}

const timeLeft = (pem: string) => inspectCertificate(pem).notAfter.getTime() - Date.now();

/** Whether the site CA can go on signing: a CA certificate, its key, time left. */
export function siteCaUsable(cert: string | undefined, key: string | undefined): boolean {
  if (!cert || !key) return false;
  try {
    return inspectCertificate(cert).isCA && keyMatches(cert, keyPairFromPem(key).publicKeyPem) && timeLeft(cert) > RENEW_BEFORE_MS;
  } catch {
    return false;
  }
}

/** Whether the serving certificate is the site CA's, names the host and 127.0.0.1, and has time left. */
export function servingCertificateUsable(cert: string | undefined, siteCaCert: string | undefined, address: string): boolean {
  if (!cert || !siteCaCert) return false;
  try {
    if (!signedBy(cert, siteCaCert)) return false;
    const facts = inspectCertificate(cert);
    const names = [...facts.dnsNames, ...facts.ips];
    return names.includes(address) && names.includes('127.0.0.1') && timeLeft(cert) > RENEW_BEFORE_MS;
  } catch {
    return false;
  }
}

/** A new site CA, with the inventory's key algorithm and CA validity. */
export async function issueSiteCa(inv: Inventory): Promise<{ cert: string; key: string }> {
  const certs = inv.cluster.certificates;
  const key = await generateKey(certs.keyAlgorithm);
  const cert = issueCertificate({
    subject: { commonName: 'kubestrap-site-registry-ca' },
    isCA: true,
    usages: [],
    sans: [],
    validityHours: durationHours(certs.caValidity),
    publicKeyPem: key.publicKeyPem,
    selfSigningKey: key.privateKey,
    now: new Date(),
  });
  return { cert, key: key.privateKeyPem };
}

/** The registry's serving certificate for `address` (and 127.0.0.1, where the host pushes), from the site CA. */
export async function issueServingCertificate(
  inv: Inventory,
  ca: { cert: string; key: string },
  address: string,
): Promise<{ cert: string; key: string }> {
  const certs = inv.cluster.certificates;
  const key = await generateKey(certs.keyAlgorithm);
  const cert = issueCertificate({
    subject: { commonName: 'kubestrap-site-registry' },
    isCA: false,
    usages: ['server'],
    sans: [...new Set([address, '127.0.0.1'])],
    validityHours: durationHours(certs.validity),
    publicKeyPem: key.publicKeyPem,
    issuer: { certPem: ca.cert, privateKey: keyPairFromPem(ca.key).privateKey },
    now: new Date(),
  });
  return { cert, key: key.privateKeyPem };
}
