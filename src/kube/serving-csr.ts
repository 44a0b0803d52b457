/**
 * Kubelet serving-certificate requests kubestrap approves: the controller-manager approves only
 * client certificates, so with serverTLSBootstrap someone must approve serving ones. The signer
 * is the cluster CA, which every client trusts for the API server too, so kubestrap approves a
 * request only when it comes from an inventory node, its subject is that node, and it names
 * nothing but the names and addresses the inventory gives that node (never what the node says
 * about itself) and none of the API server's or the cluster services' names. A request kubestrap
 * cannot parse is reported, not fatal: any node can create one.
 */
import forge from 'node-forge';
import { canonicalIp } from '../util/cidr.js';

export const KUBELET_SERVING_SIGNER = 'kubernetes.io/kubelet-serving';

export interface ServingCsr {
  readonly name: string;
  readonly node: string;
  readonly commonName?: string;
  readonly dnsNames: readonly string[];
  readonly ips: readonly string[];
  /** Why the request could not be read (it is then never approved). */
  readonly malformed?: string;
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
    .filter(
      (c) => c.spec.signerName === KUBELET_SERVING_SIGNER && !c.status?.conditions?.length && c.spec.username?.startsWith('system:node:'),
    )
    .map((c) => {
      const base = {
        name: c.metadata.name,
        node: c.spec.username!.slice('system:node:'.length),
        object: c as unknown as Record<string, unknown>,
      };
      try {
        return { ...base, ...requestedNames(Buffer.from(c.spec.request ?? '', 'base64').toString('utf8')) };
      } catch (err) {
        return { ...base, dnsNames: [], ips: [], malformed: `its request cannot be read (${(err as Error).message})` };
      }
    });
}

/** Whether the node already has an approved serving-certificate request (its kubelet may still be fetching the certificate). */
export function approvedServingCsr(items: ReadonlyArray<Record<string, unknown>>, node: string): boolean {
  return (items as unknown as CsrObject[]).some(
    (c) =>
      c.spec.signerName === KUBELET_SERVING_SIGNER &&
      c.spec.username === `system:node:${node}` &&
      (c.status?.conditions ?? []).some((x) => (x as { type?: string }).type === 'Approved'),
  );
}

const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const SUBJECT_ALT_NAME = '2.5.29.17';
const COMMON_NAME = '2.5.4.3';

const children = (node: forge.asn1.Asn1 | undefined, what: string): forge.asn1.Asn1[] => {
  if (!node || !Array.isArray(node.value)) throw new Error(`${what} is not a sequence`);
  return node.value;
};

/**
 * The subjectAltName entries of a PKCS#10 request, read from its ASN.1 directly: kubelets make
 * ECDSA requests, which node-forge's request parser (RSA only) refuses.
 */
export function requestedNames(pem: string): { commonName?: string; dnsNames: string[]; ips: string[] } {
  const der = forge.util.decode64(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''));
  const request = forge.asn1.fromDer(der);
  const [version, subject, , attributesNode] = children(children(request, 'the request')[0], 'the request info');
  if (!version || !subject) throw new Error('the request info is incomplete');
  const commonName = children(subject, 'the subject')
    .flatMap((rdn) => children(rdn, 'a subject RDN'))
    .map((atv) => children(atv, 'a subject attribute'))
    .find(([oid]) => typeof oid?.value === 'string' && forge.asn1.derToOid(oid.value) === COMMON_NAME)?.[1]?.value;
  const attributes =
    attributesNode?.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && (attributesNode.type as number) === 0
      ? children(attributesNode, 'the attributes')
      : [];
  const dnsNames: string[] = [];
  const ips: string[] = [];
  for (const attribute of attributes) {
    const [oid, values] = children(attribute, 'an attribute');
    if (typeof oid?.value !== 'string' || forge.asn1.derToOid(oid.value) !== EXTENSION_REQUEST) continue;
    // Go skips an attribute with no values, and so does this (the API server accepts such requests)
    for (const extensions of children(values, 'the extension request values')) {
      for (const extension of children(extensions, 'the extensions')) {
        const parts = children(extension, 'an extension');
        if (typeof parts[0]?.value !== 'string' || forge.asn1.derToOid(parts[0].value) !== SUBJECT_ALT_NAME) continue;
        const octets = parts[parts.length - 1]?.value;
        if (typeof octets !== 'string') throw new Error('the subjectAltName extension holds no octets');
        for (const name of children(forge.asn1.fromDer(octets), 'the subjectAltName')) {
          const bytes = name.value;
          if (typeof bytes !== 'string') continue;
          // GeneralName's [2] dNSName and [7] iPAddress (RFC 5280 4.2.1.6)
          const tag = name.type as number;
          if (tag === 2) dnsNames.push(bytes);
          if (tag === 7)
            ips.push(
              bytes.length === 4
                ? Array.from(bytes, (ch) => ch.charCodeAt(0)).join('.')
                : forge.util.bytesToHex(bytes).replace(/(.{4})(?!$)/g, '$1:'),
            );
        }
      }
    }
  }
  return { ...(typeof commonName === 'string' ? { commonName } : {}), dnsNames, ips };
}

/** Why a request must not be approved, or undefined when it names only the node itself. */
export function servingCsrProblem(
  csr: ServingCsr,
  node: { names: readonly string[]; addresses: readonly string[]; reserved?: readonly string[] } | undefined,
): string | undefined {
  if (csr.malformed) return csr.malformed;
  if (!node) return `${csr.node} is not a node of the inventory`;
  if (csr.commonName !== `system:node:${csr.node}`)
    return `its subject is ${JSON.stringify(csr.commonName ?? '')}, not system:node:${csr.node} (the user that made it)`;
  const reserved = csr.dnsNames.filter((n) => node.reserved?.includes(n.toLowerCase()));
  if (reserved.length) return `asks for names of the API server or the cluster's services: ${reserved.join(', ')}`;
  const foreignNames = csr.dnsNames.filter((n) => !node.names.includes(n));
  const own = new Set(node.addresses.map(canonicalIp));
  const foreignIps = csr.ips.filter((ip) => !own.has(canonicalIp(ip)));
  if (foreignNames.length || foreignIps.length)
    return `asks for names that are not ${csr.node}'s: ${[...foreignNames, ...foreignIps].join(', ')}`;
  return undefined;
}
