/**
 * Kubelet serving-certificate requests kubestrap approves: the controller-manager approves only
 * client certificates, so with serverTLSBootstrap someone must approve serving ones. kubestrap
 * approves a request only when it comes from an inventory node and names nothing but that node's
 * own name and addresses.
 */
import forge from 'node-forge';
import { canonicalIp } from '../util/cidr.js';

export const KUBELET_SERVING_SIGNER = 'kubernetes.io/kubelet-serving';

export interface ServingCsr {
  readonly name: string;
  readonly node: string;
  readonly dnsNames: readonly string[];
  readonly ips: readonly string[];
  /** The API object, for the approval call. */
  readonly object: Record<string, unknown>;
}

interface CsrObject {
  metadata: { name: string };
  spec: { signerName?: string; username?: string; request: string };
  status?: { conditions?: unknown[] };
}

/** The pending kubelet-serving requests, with the names their certificates would carry. */
export function pendingServingCsrs(items: ReadonlyArray<Record<string, unknown>>): ServingCsr[] {
  return (items as unknown as CsrObject[])
    .filter((c) => c.spec.signerName === KUBELET_SERVING_SIGNER && !(c.status?.conditions?.length) && c.spec.username?.startsWith('system:node:'))
    .map((c) => {
      const { dnsNames, ips } = requestedNames(Buffer.from(c.spec.request, 'base64').toString('utf8'));
      return { name: c.metadata.name, node: c.spec.username!.slice('system:node:'.length), dnsNames, ips, object: c as unknown as Record<string, unknown> };
    });
}

/** Whether the node already has an approved serving-certificate request (its kubelet may still be fetching the certificate). */
export function approvedServingCsr(items: ReadonlyArray<Record<string, unknown>>, node: string): boolean {
  return (items as unknown as CsrObject[]).some(
    (c) => c.spec.signerName === KUBELET_SERVING_SIGNER && c.spec.username === `system:node:${node}` && (c.status?.conditions ?? []).some((x) => (x as { type?: string }).type === 'Approved'),
  );
}

const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const SUBJECT_ALT_NAME = '2.5.29.17';

/**
 * The subjectAltName entries of a PKCS#10 request, read from its ASN.1 directly: kubelets make
 * ECDSA requests, which node-forge's request parser (RSA only) refuses.
 */
export function requestedNames(pem: string): { dnsNames: string[]; ips: string[] } {
  const der = forge.util.decode64(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''));
  const request = forge.asn1.fromDer(der);
  const info = (request.value as forge.asn1.Asn1[])[0]!;
  const attributes = (info.value as forge.asn1.Asn1[]).find((v) => v.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && v.type === 0);
  const dnsNames: string[] = [];
  const ips: string[] = [];
  for (const attribute of (attributes?.value as forge.asn1.Asn1[] | undefined) ?? []) {
    const [oid, values] = attribute.value as forge.asn1.Asn1[];
    if (forge.asn1.derToOid(oid!.value as string) !== EXTENSION_REQUEST) continue;
    for (const extension of ((values!.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[])) {
      const parts = extension.value as forge.asn1.Asn1[];
      if (forge.asn1.derToOid(parts[0]!.value as string) !== SUBJECT_ALT_NAME) continue;
      const names = forge.asn1.fromDer(parts[parts.length - 1]!.value as string);
      for (const name of names.value as forge.asn1.Asn1[]) {
        const bytes = name.value as string;
        if (name.type === 2) dnsNames.push(bytes);
        if (name.type === 7) ips.push(bytes.length === 4 ? [...bytes].map((ch) => ch.charCodeAt(0)).join('.') : forge.util.bytesToHex(bytes).replace(/(.{4})(?!$)/g, '$1:'));
      }
    }
  }
  return { dnsNames, ips };
}

/** Why a request must not be approved, or undefined when it names only the node itself. */
export function servingCsrProblem(csr: ServingCsr, node: { names: readonly string[]; addresses: readonly string[] } | undefined): string | undefined {
  if (!node) return `${csr.node} is not a node of the inventory`;
  const foreignNames = csr.dnsNames.filter((n) => !node.names.includes(n));
  const own = new Set(node.addresses.map(canonicalIp));
  const foreignIps = csr.ips.filter((ip) => !own.has(canonicalIp(ip)));
  if (foreignNames.length || foreignIps.length) return `asks for names that are not ${csr.node}'s: ${[...foreignNames, ...foreignIps].join(', ')}`;
  return undefined;
}
