/** Certificate signing requests no tool would make, for the parsers that read what nodes send. */
import forge from 'node-forge';

/**
 * A request whose first extensionRequest attribute has no values: Go's parser (the API server's)
 * skips it and accepts the request; kubestrap's parser once failed on it, and every apply with it.
 */
export function emptyAttributeRequest(node: string, keyBits = 2048): string {
  const { asn1 } = forge;
  const keys = forge.pki.rsa.generateKeyPair(keyBits);
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = keys.publicKey;
  csr.setSubject([
    { name: 'organizationName', value: 'system:nodes' },
    { name: 'commonName', value: `system:node:${node}` },
  ]);
  csr.setAttributes([{ name: 'extensionRequest', extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: node }] }] }]);
  // node-forge has it, its types do not
  const info = (
    forge.pki as unknown as { getCertificationRequestInfo(c: ReturnType<typeof forge.pki.createCertificationRequest>): forge.asn1.Asn1 }
  ).getCertificationRequestInfo(csr);
  const attributes = (info.value as forge.asn1.Asn1[])[3]!;
  attributes.value = [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer('1.2.840.113549.1.9.14').getBytes()),
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, []),
    ]),
    ...(attributes.value as forge.asn1.Asn1[]),
  ];
  const digest = forge.md.sha256.create();
  digest.update(asn1.toDer(info).getBytes());
  const algorithm = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(forge.pki.oids.sha256WithRSAEncryption!).getBytes()),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''),
  ]);
  const request = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    info,
    algorithm,
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, `\0${keys.privateKey.sign(digest)}`),
  ]);
  return `-----BEGIN CERTIFICATE REQUEST-----\n${forge.util.encode64(asn1.toDer(request).getBytes(), 64)}\n-----END CERTIFICATE REQUEST-----\n`;
}
