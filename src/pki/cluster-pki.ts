/**
 * The cluster's trust chain, laid out per node as /etc/kubernetes: shared CA material (ca,
 * front-proxy-ca, etcd/ca, sa) and each control plane's own certificates and kubeconfigs.
 * Existing material is reused when it still matches its spec; a mismatch is reported with the
 * difference and left alone unless the operator asks to renew it. Pure apart from randomness:
 * inputs are the files that exist, outputs the files to write.
 */
import {
  CA_FILES,
  CERTIFICATES,
  certificatesFor,
  kubeconfigsFor,
  serverUrl,
  type CaName,
  type CertSpec,
  type ClusterPki,
  type KubeconfigSpec,
  type NodePki,
} from './catalogue.js';
import { generateKey, keyPairFromPem, type KeyPair } from './keys.js';
import { buildKubeconfig, currentCredentials, parseKubeconfig, serializeKubeconfig } from './kubeconfig.js';
import { canonicalIp } from '../util/cidr.js';
import { inspectCertificate, issueCertificate, keyMatches, signedBy } from './x509.js';
import { KUBELET_CLIENT_CURRENT } from '../../templates/paths.js';

/** Files below /etc/kubernetes of one node, by relative path (e.g. `pki/ca.crt`, `admin.conf`). */
export type FileSet = ReadonlyMap<string, string>;

export interface PkiFile {
  readonly path: string;
  readonly content: string;
  readonly mode: number;
}

export type FindingStatus = 'created' | 'kept' | 'mismatch' | 'renewed';

export interface Finding {
  readonly node: string;
  readonly file: string;
  readonly status: FindingStatus;
  readonly problems: readonly string[];
}

export interface PkiNode {
  readonly node: NodePki;
  readonly controlPlane: boolean;
}

export interface PkiResult {
  /** Files to write, per node name. */
  readonly writes: ReadonlyMap<string, readonly PkiFile[]>;
  readonly findings: readonly Finding[];
}

interface Ca {
  readonly certPem: string;
  readonly key: KeyPair;
}

const CERT_MODE = 0o644;
const KEY_MODE = 0o600;
const KUBECONFIG_MODE = 0o600;

const pkiPath = (file: string, ext: 'crt' | 'key') => `pki/${file}.${ext}`;

/** What is wrong with an existing certificate, compared with what kubestrap would issue. */
export function certificateProblems(
  certPem: string,
  keyPem: string | undefined,
  expected: { commonName: string; organizations: readonly string[]; sans: readonly string[]; caPem?: string },
  now: Date,
): string[] {
  const problems: string[] = [];
  let facts;
  try {
    facts = inspectCertificate(certPem);
  } catch (err) {
    return [`cannot parse the certificate: ${(err as Error).message}`];
  }
  if (facts.commonName !== expected.commonName) problems.push(`CN is ${facts.commonName}, want ${expected.commonName}`);
  const orgs = [...facts.organizations].sort().join(',');
  const wantOrgs = [...expected.organizations].sort().join(',');
  if (orgs !== wantOrgs) problems.push(`O is ${orgs || '(none)'}, want ${wantOrgs || '(none)'}`);
  const present = new Set([...facts.dnsNames, ...facts.ips].map((s) => canonicalIp(s.toLowerCase())));
  const missing = expected.sans.filter((s) => !present.has(canonicalIp(s.toLowerCase())));
  if (missing.length) problems.push(`missing SAN ${missing.join(', ')}`);
  if (facts.notAfter <= now) problems.push(`expired on ${facts.notAfter.toISOString()}`);
  if (facts.notBefore > now) problems.push(`not valid before ${facts.notBefore.toISOString()}`);
  if (expected.caPem && !signedBy(certPem, expected.caPem))
    problems.push(`not signed by the current CA (issuer CN=${facts.issuerCommonName})`);
  if (keyPem !== undefined) {
    try {
      if (!keyMatches(certPem, keyPairFromPem(keyPem).publicKeyPem)) problems.push('the private key does not belong to the certificate');
    } catch (err) {
      problems.push(`cannot read the private key: ${(err as Error).message}`);
    }
  }
  return problems;
}

/** An existing CA is reused as long as it is a CA, unexpired and has its own key. */
function caProblems(certPem: string, keyPem: string, now: Date): string[] {
  const facts = inspectCertificate(certPem);
  return certificateProblems(certPem, keyPem, { commonName: facts.commonName, organizations: facts.organizations, sans: [] }, now).concat(
    facts.isCA ? [] : ['not a CA certificate'],
  );
}

/**
 * Keys are the slow part (RSA prime search). Every key the run needs is started at once so the
 * thread pool keeps all cores busy; `take` hands them out in order.
 */
class KeyPool {
  private readonly pending: Array<Promise<KeyPair>>;
  constructor(
    private readonly algorithm: ClusterPki['keyAlgorithm'],
    count: number,
  ) {
    this.pending = Array.from({ length: count }, () => generateKey(algorithm));
  }
  take(): Promise<KeyPair> {
    return this.pending.shift() ?? generateKey(this.algorithm);
  }
}

const wantsRenewal = (renew: ReadonlySet<string>, name: string) => renew.has(name) || renew.has('all');
const leafNeedsIssue = (have: FileSet, spec: CertSpec, renew: ReadonlySet<string>) =>
  !have.has(pkiPath(spec.file, 'crt')) || !have.has(pkiPath(spec.file, 'key')) || wantsRenewal(renew, spec.name);
const kubeconfigNeedsIssue = (have: FileSet, spec: KubeconfigSpec, renew: ReadonlySet<string>) =>
  !have.has(spec.file) || (wantsRenewal(renew, spec.file) && !rotatedByKubelet(have.get(spec.file)!));

/** A kubeconfig pointing at the kubelet's rotating certificate (kubeadm's kubelet.conf): the kubelet renews it, as kubeadm certs renew leaves it alone. */
function rotatedByKubelet(text: string): boolean {
  try {
    return currentCredentials(parseKubeconfig(text)).certFile === KUBELET_CLIENT_CURRENT;
  } catch {
    return false;
  }
}

interface PlannedCert {
  readonly node: string;
  readonly findingFile: string;
  readonly status: 'created' | 'renewed';
  readonly issue: (key: KeyPair) => PkiFile[];
}

export interface BuildOptions {
  readonly renew?: ReadonlySet<string>;
  readonly now?: Date;
  /** Leave out the kubeconfig files (kubeadm's `init phase certs all` scope). */
  readonly withoutKubeconfigs?: boolean;
}

export async function buildClusterPki(
  config: ClusterPki,
  nodes: readonly PkiNode[],
  existing: ReadonlyMap<string, FileSet>,
  options: BuildOptions = {},
): Promise<PkiResult> {
  const now = options.now ?? new Date();
  const renew = options.renew ?? new Set<string>();
  const findings: Finding[] = [];
  const writes = new Map<string, PkiFile[]>(nodes.map((n) => [n.node.nodeName, []]));
  const controlPlanes = nodes.filter((n) => n.controlPlane);
  if (controlPlanes.length === 0) throw new Error('no control-plane node to generate certificates for');
  const first = controlPlanes[0]!.node.nodeName;
  const firstFiles = existing.get(first) ?? new Map<string, string>();

  // 1. Shared material: reuse what the first control plane has, generate what is missing.
  const certificates = certificatesFor(config);
  const caNames = certificates.flatMap((c) => (c.ca ? [] : [c.name as CaName]));
  const cas = new Map<CaName, Ca>();
  const newCas: CaName[] = [];
  for (const name of caNames) {
    const certPem = firstFiles.get(pkiPath(CA_FILES[name], 'crt'));
    const keyPem = firstFiles.get(pkiPath(CA_FILES[name], 'key'));
    if (certPem && keyPem) {
      const problems = caProblems(certPem, keyPem, now);
      findings.push({ node: first, file: pkiPath(CA_FILES[name], 'crt'), status: problems.length ? 'mismatch' : 'kept', problems });
      cas.set(name, { certPem, key: keyPairFromPem(keyPem) });
    } else if (certPem && !keyPem) {
      throw new Error(
        `${first}: pki/${CA_FILES[name]}.crt exists without its key; external CAs (key kept elsewhere) are not supported yet`,
      );
    } else newCas.push(name);
  }
  const saKeyPem = firstFiles.get('pki/sa.key');
  const kubeconfigs = options.withoutKubeconfigs ? [] : kubeconfigsFor(config);
  const leafCount = controlPlanes.reduce((n, { node }) => {
    const have = existing.get(node.nodeName) ?? new Map<string, string>();
    return (
      n +
      certificates.filter((c) => c.ca && leafNeedsIssue(have, c, renew)).length +
      kubeconfigs.filter((k) => kubeconfigNeedsIssue(have, k, renew)).length
    );
  }, 0);
  const pool = new KeyPool(config.keyAlgorithm, newCas.length + (saKeyPem ? 0 : 1) + leafCount);
  const caKeys = await Promise.all(newCas.map(() => pool.take()));
  const saKey = saKeyPem ? keyPairFromPem(saKeyPem) : await pool.take();
  newCas.forEach((name, i) => {
    const spec = CERTIFICATES.find((c) => c.name === name)!;
    const key = caKeys[i]!;
    const certPem = issueCertificate({
      subject: { commonName: spec.commonName(config, controlPlanes[0]!.node) },
      isCA: true,
      usages: [],
      sans: spec.sans(config, controlPlanes[0]!.node),
      validityHours: config.caValidityHours,
      publicKeyPem: key.publicKeyPem,
      selfSigningKey: key.privateKey,
      now,
    });
    cas.set(name, { certPem, key });
    findings.push({ node: first, file: `pki/${spec.file}.crt`, status: 'created', problems: [] });
  });
  const shared: PkiFile[] = [
    ...caNames.flatMap((name) => [
      { path: pkiPath(CA_FILES[name], 'crt'), content: cas.get(name)!.certPem, mode: CERT_MODE },
      { path: pkiPath(CA_FILES[name], 'key'), content: cas.get(name)!.key.privateKeyPem, mode: KEY_MODE },
    ]),
    { path: 'pki/sa.key', content: saKey.privateKeyPem, mode: KEY_MODE },
    // kubeadm writes sa.pub with the key helper, hence 0600
    { path: 'pki/sa.pub', content: saKey.publicKeyPem, mode: KEY_MODE },
  ];

  // 2. Per node: shared files, then its own certificates and kubeconfigs.
  const planned: PlannedCert[] = [];
  for (const { node, controlPlane } of nodes) {
    const have = existing.get(node.nodeName) ?? new Map<string, string>();
    const out = writes.get(node.nodeName)!;
    const wanted = controlPlane ? shared : shared.filter((f) => f.path === 'pki/ca.crt');
    for (const file of wanted) {
      const current = have.get(file.path);
      if (current === undefined) out.push(file);
      else if (current !== file.content && node.nodeName !== first) {
        findings.push({
          node: node.nodeName,
          file: file.path,
          status: 'mismatch',
          problems: ['differs from the cluster CA material on the first control plane'],
        });
      }
    }
    if (!controlPlane) continue;
    for (const spec of certificates.filter((c) => c.ca)) planned.push(...planLeaf(config, node, spec, have, cas, renew, now, findings));
    for (const spec of kubeconfigs) planned.push(...planKubeconfig(config, node, spec, have, cas.get('ca')!, renew, now, findings));
  }

  // 3. Certificates for everything new, each signed as soon as its key is ready.
  await Promise.all(
    planned.map(async (p) => {
      const key = await pool.take();
      writes.get(p.node)!.push(...p.issue(key));
      findings.push({ node: p.node, file: p.findingFile, status: p.status, problems: [] });
    }),
  );
  findings.sort((a, b) => a.node.localeCompare(b.node) || a.file.localeCompare(b.file));
  return { writes, findings };
}

/**
 * A worker's kubelet.conf with its own client certificate (system:node:NAME, system:nodes) issued
 * from the cluster CA, for the control-plane endpoint: what the kubelet's TLS bootstrap would end
 * with, without the bootstrap. kubestrap's inventory joins hold the CA already (as kubeadm does
 * when it writes a control plane's kubelet.conf), so a worker needs neither a bootstrap token nor
 * the controller-manager to approve and sign its request; the kubelet rotates the certificate
 * itself from then on.
 */
export async function workerKubeletConf(
  config: ClusterPki,
  node: NodePki,
  server: string,
  ca: { certPem: string; keyPem: string },
  now = new Date(),
): Promise<string> {
  const spec = kubeconfigsFor(config).find((k) => k.file === 'kubelet.conf')!;
  const [planned] = planKubeconfig(
    config,
    node,
    spec,
    new Map(),
    { certPem: ca.certPem, key: keyPairFromPem(ca.keyPem) },
    new Set(),
    now,
    [],
    server,
  );
  return planned!.issue(await generateKey(config.keyAlgorithm))[0]!.content;
}

function planLeaf(
  config: ClusterPki,
  node: NodePki,
  spec: CertSpec,
  have: FileSet,
  cas: ReadonlyMap<CaName, Ca>,
  renew: ReadonlySet<string>,
  now: Date,
  findings: Finding[],
): PlannedCert[] {
  const ca = cas.get(spec.ca!)!;
  const expected = {
    commonName: spec.commonName(config, node),
    organizations: spec.organizations(config),
    sans: spec.sans(config, node),
    caPem: ca.certPem,
  };
  const certPath = pkiPath(spec.file, 'crt');
  const certPem = have.get(certPath);
  const keyPem = have.get(pkiPath(spec.file, 'key'));
  if (certPem && keyPem && !leafNeedsIssue(have, spec, renew)) {
    const problems = certificateProblems(certPem, keyPem, expected, now);
    findings.push({ node: node.nodeName, file: certPath, status: problems.length ? 'mismatch' : 'kept', problems });
    return [];
  }
  return [
    {
      node: node.nodeName,
      findingFile: certPath,
      status: certPem ? 'renewed' : 'created',
      issue: (key) => [
        {
          path: certPath,
          content: issueCertificate({
            subject: { commonName: expected.commonName, organizations: expected.organizations },
            isCA: false,
            usages: spec.usages,
            sans: expected.sans,
            validityHours: config.validityHours,
            publicKeyPem: key.publicKeyPem,
            issuer: { certPem: ca.certPem, privateKey: ca.key.privateKey },
            now,
          }),
          mode: CERT_MODE,
        },
        { path: pkiPath(spec.file, 'key'), content: key.privateKeyPem, mode: KEY_MODE },
      ],
    },
  ];
}

/** `server`: where the kubeconfig points, by default as the spec says for this node. */
function planKubeconfig(
  config: ClusterPki,
  node: NodePki,
  spec: KubeconfigSpec,
  have: FileSet,
  ca: Ca,
  renew: ReadonlySet<string>,
  now: Date,
  findings: Finding[],
  server = serverUrl(config, node, spec.server(config)),
): PlannedCert[] {
  const userName = spec.clientName(node);
  const current = have.get(spec.file);
  if (current !== undefined && !kubeconfigNeedsIssue(have, spec, renew)) {
    findings.push({
      node: node.nodeName,
      file: spec.file,
      ...kubeconfigStatus(
        current,
        { userName, server, organizations: spec.organizations(config), clusterName: config.clusterName, ca },
        now,
      ),
    });
    return [];
  }
  return [
    {
      node: node.nodeName,
      findingFile: spec.file,
      status: current === undefined ? 'created' : 'renewed',
      issue: (key) => {
        const certPem = issueCertificate({
          subject: { commonName: userName, organizations: spec.organizations(config) },
          isCA: false,
          usages: ['client'],
          sans: [],
          validityHours: config.validityHours,
          publicKeyPem: key.publicKeyPem,
          issuer: { certPem: ca.certPem, privateKey: ca.key.privateKey },
          now,
        });
        const kubeconfig = buildKubeconfig({
          clusterName: config.clusterName,
          server,
          caCertPem: ca.certPem,
          userName,
          credentials: { certPem, keyPem: key.privateKeyPem },
        });
        return [{ path: spec.file, content: serializeKubeconfig(kubeconfig), mode: KUBECONFIG_MODE }];
      },
    },
  ];
}

function kubeconfigStatus(
  text: string,
  want: { userName: string; server: string; organizations: readonly string[]; clusterName: string; ca: Ca },
  now: Date,
): { status: FindingStatus; problems: string[] } {
  const problems: string[] = [];
  try {
    const config = parseKubeconfig(text);
    const creds = currentCredentials(config);
    if (creds.server !== want.server) problems.push(`server is ${creds.server}, want ${want.server}`);
    if (creds.caCertPem.trim() !== want.ca.certPem.trim()) problems.push('embeds a different CA certificate');
    if (config['current-context'] !== `${want.userName}@${want.clusterName}`)
      problems.push(`current context is ${config['current-context']}, want ${want.userName}@${want.clusterName}`);
    // kubeadm's kubelet-finalize points kubelet.conf at the certificate the kubelet rotates: the kubelet's to keep
    if (creds.certFile === KUBELET_CLIENT_CURRENT && want.userName.startsWith('system:node:'))
      return { status: problems.length ? 'mismatch' : 'kept', problems };
    if (!creds.certPem) problems.push('has no client certificate');
    else
      problems.push(
        ...certificateProblems(
          creds.certPem,
          creds.keyPem,
          { commonName: want.userName, organizations: want.organizations, sans: [], caPem: want.ca.certPem },
          now,
        ),
      );
  } catch (err) {
    problems.push(`cannot parse: ${(err as Error).message}`);
  }
  return { status: problems.length ? 'mismatch' : 'kept', problems };
}
