/**
 * Certificate issuance. node-forge builds the TBSCertificate (it writes X.509 extensions
 * well); Node's crypto signs it with SHA-256 (forge signs SHA-1 by default and in pure JS at
 * ~50 ms a certificate). Extensions follow what kubeadm's Go code produces: CAs carry key usage,
 * basic constraints, subject key identifier and their CN as DNS SAN; leaves carry key usage,
 * extended key usage, basic constraints CA:FALSE, and an authority key identifier equal to the
 * issuer's subject key identifier (forge would otherwise write the leaf's own).
 */
import { createPublicKey, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import { canonicalIp } from '../util/cidr.js';

export type Usage = 'server' | 'client';

export interface Subject {
  readonly commonName: string;
  readonly organizations?: readonly string[];
}

export interface CertificateRequest {
  readonly subject: Subject;
  readonly isCA: boolean;
  readonly usages: readonly Usage[];
  /** DNS names and IP addresses; each entry is classified by whether it parses as an IP. */
  readonly sans: readonly string[];
  readonly validityHours: number;
  readonly publicKeyPem: string;
  /** The signing CA; absent for a self-signed CA. */
  readonly issuer?: { readonly certPem: string; readonly privateKey: KeyObject };
  /** Signing key of a self-signed CA (its own). */
  readonly selfSigningKey?: KeyObject;
  readonly now: Date;
}

/** kubeadm backdates every certificate so that small clock skew between nodes does not matter. */
export const BACKDATE_MS = 5 * 60_000;

/** A random positive serial in [1, 2^63), as kubeadm draws it. */
function serialHex(): string {
  for (;;) {
    const bytes = randomBytes(8);
    bytes[0]! &= 0x7f;
    if (bytes.some((b) => b !== 0)) return bytes.toString('hex');
  }
}

function subjectAttributes(subject: Subject): forge.pki.CertificateField[] {
  const attrs: forge.pki.CertificateField[] = (subject.organizations ?? []).map((o) => ({ name: 'organizationName', value: o }));
  attrs.push({ name: 'commonName', value: subject.commonName });
  return attrs;
}

function altNames(sans: readonly string[]) {
  return sans.map((san) => (isIP(san) ? { type: 7, ip: san } : { type: 2, value: san }));
}

export function issueCertificate(req: CertificateRequest): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(req.publicKeyPem);
  cert.serialNumber = serialHex();
  cert.validity.notBefore = new Date(req.now.getTime() - BACKDATE_MS);
  cert.validity.notAfter = new Date(req.now.getTime() + req.validityHours * 3600_000);
  cert.setSubject(subjectAttributes(req.subject));
  const issuerCert = req.issuer ? forge.pki.certificateFromPem(req.issuer.certPem) : undefined;
  cert.setIssuer(issuerCert ? issuerCert.subject.attributes : subjectAttributes(req.subject));

  const extensions: object[] = [
    {
      name: 'keyUsage',
      critical: true,
      digitalSignature: true,
      keyEncipherment: true,
      ...(req.isCA ? { keyCertSign: true } : {}),
    },
  ];
  if (req.usages.length) {
    extensions.push({
      name: 'extKeyUsage',
      ...(req.usages.includes('server') ? { serverAuth: true } : {}),
      ...(req.usages.includes('client') ? { clientAuth: true } : {}),
    });
  }
  extensions.push({ name: 'basicConstraints', critical: true, cA: req.isCA });
  if (req.isCA) extensions.push({ name: 'subjectKeyIdentifier' });
  if (issuerCert) {
    const issuerSki: { subjectKeyIdentifier?: string } | undefined = issuerCert.getExtension('subjectKeyIdentifier');
    const keyIdentifier = issuerSki?.subjectKeyIdentifier
      ? forge.util.hexToBytes(issuerSki.subjectKeyIdentifier)
      : forge.pki.getPublicKeyFingerprint(issuerCert.publicKey, { type: 'RSAPublicKey', encoding: 'binary' });
    extensions.push({ name: 'authorityKeyIdentifier', keyIdentifier });
  }
  if (req.sans.length) extensions.push({ name: 'subjectAltName', altNames: altNames(req.sans) });
  cert.setExtensions(extensions);

  // Sign with Node: SHA-256, native speed.
  const oid = forge.pki.oids.sha256WithRSAEncryption!;
  cert.signatureOid = oid;
  cert.siginfo.algorithmOid = oid;
  cert.md = forge.md.sha256.create();
  const tbs = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate(cert);
  (cert as unknown as { tbsCertificate: forge.asn1.Asn1 }).tbsCertificate = tbs;
  const signingKey = req.issuer?.privateKey ?? req.selfSigningKey;
  if (!signingKey) throw new Error(`no signing key for ${req.subject.commonName}`);
  const der = Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary');
  cert.signature = sign('sha256', der, signingKey).toString('binary');
  // forge writes CRLF line ends; Go (kubeadm, client-go) writes LF, and kubeadm compares the
  // CA embedded in kubeconfigs byte for byte with its own encoding
  return forge.pki.certificateToPem(cert).replace(/\r\n/g, '\n');
}

/** The certificate's facts as kubestrap compares them with a spec. */
export interface CertificateFacts {
  readonly commonName: string;
  readonly organizations: readonly string[];
  readonly dnsNames: readonly string[];
  readonly ips: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly isCA: boolean;
  readonly issuerCommonName: string;
}

function subjectField(text: string, key: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));
}

export function inspectCertificate(pem: string): CertificateFacts {
  const x = new X509Certificate(pem);
  const sans = (x.subjectAltName ?? '').split(', ').filter(Boolean);
  return {
    commonName: subjectField(x.subject, 'CN')[0] ?? '',
    organizations: subjectField(x.subject, 'O'),
    dnsNames: sans.filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4)),
    ips: sans.filter((s) => s.startsWith('IP Address:')).map((s) => canonicalIp(s.slice(11).toLowerCase())),
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    isCA: x.ca,
    issuerCommonName: subjectField(x.issuer, 'CN')[0] ?? '',
  };
}

/** Whether `certPem` carries a signature by `caPem`'s key and names it as issuer. */
export function signedBy(certPem: string, caPem: string): boolean {
  const cert = new X509Certificate(certPem);
  const ca = new X509Certificate(caPem);
  return cert.checkIssued(ca) && cert.verify(ca.publicKey);
}

/** Whether the private key belongs to the certificate. */
export function keyMatches(certPem: string, publicKeyPem: string): boolean {
  const certKey = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return certKey.equals(createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' }));
}
