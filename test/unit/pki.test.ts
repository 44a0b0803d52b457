/**
 * The generated PKI checked against kubeadm-spec §2, §3, §5, §7 and §12 with real tools:
 * openssl reads every field back, kubectl loads every kubeconfig.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { clusterInfoKubeconfig, tokenSecret } from '../../src/kube/bootstrap-objects.js';
import { configMapChecksum } from '../../src/kube/config-hash.js';
import { formatToken, generateToken, parseToken } from '../../src/pki/bootstrap-token.js';
import { caPin, pinMatches, validatePin } from '../../src/pki/ca-pin.js';
import { decrypt, encrypt, generateCertificateKey, openFiles, sealFiles } from '../../src/pki/certificate-key.js';
import { signDetached, verifyDetached } from '../../src/pki/jws.js';
import { selfSignedCertificate } from './openssl.js';
import { KUBEADM_CERTS_KEYS } from './kubeadm-certs-keys.js';
import { tempDir } from '../lab/helpers.js';

const TESTDATA = join(__dirname, '..', 'fixtures', 'kubeadm');
const testdata = (f: string) => readFileSync(join(TESTDATA, f), 'utf8');

const INVENTORY = `apiVersion: kubestrap.dev/v1alpha1
kind: Cluster
hosts:
  - {name: cp-1, address: 192.168.56.10, roles: [control-plane]}
  - {name: worker-1, address: 192.168.56.21, roles: [worker]}
cluster:
  name: lab-cluster
  kubernetesVersion: v1.30.4
  controlPlaneEndpoint: k8s-api.example.com:8443
  networking:
    serviceSubnet: 10.96.0.0/12
    dnsDomain: cluster.local
  certificates:
    certSANs: [10.0.0.100, api.example.org]
`;

function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/kubestrap.js', ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function openssl(args: string[], input?: string): string {
  return execFileSync('openssl', args, { encoding: 'utf8', ...(input ? { input } : {}) });
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
}

function checksums(dir: string): Record<string, string> {
  return Object.fromEntries(
    walk(dir).map((f) => [relative(dir, f), createHash('sha256').update(readFileSync(f)).digest('hex') + statSync(f).mode.toString(8)]),
  );
}

let out: string;
let pki: string;
let started: Date;

beforeAll(() => {
  const dir = tempDir('pki');
  writeFileSync(join(dir, 'inventory.yaml'), INVENTORY);
  out = join(dir, 'out');
  started = new Date();
  const r = cli(['certs', 'generate', '-i', join(dir, 'inventory.yaml'), '--out', out]);
  expect(r.code, r.stderr).toBe(0);
  pki = join(out, 'cp-1', 'etc', 'kubernetes', 'pki');
});

interface Expected {
  file: string;
  ca: string | undefined;
  subject: string;
  dns: string[];
  ips: string[];
  eku: string | undefined;
}

/** kubeadm-spec §2.2/§2.3 for this inventory (v1.30: no O on the etcd clients). */
/** etcd's server and peer certificates are alike in kubeadm: the node's names, serving and client use. */
const ETCD_MEMBER: Omit<Expected, 'file'> = {
  ca: 'etcd/ca',
  subject: 'CN=cp-1',
  dns: ['cp-1', 'localhost'],
  ips: ['192.168.56.10', '127.0.0.1', '0:0:0:0:0:0:0:1'],
  eku: 'TLS Web Server Authentication, TLS Web Client Authentication',
};

const TABLE: Expected[] = [
  { file: 'ca', ca: undefined, subject: 'CN=kubernetes', dns: ['kubernetes'], ips: [], eku: undefined },
  {
    file: 'apiserver',
    ca: 'ca',
    subject: 'CN=kube-apiserver',
    dns: [
      'api.example.org',
      'cp-1',
      'k8s-api.example.com',
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      'kubernetes.default.svc.cluster.local',
    ],
    ips: ['10.96.0.1', '192.168.56.10', '10.0.0.100'],
    eku: 'TLS Web Server Authentication',
  },
  {
    file: 'apiserver-kubelet-client',
    ca: 'ca',
    subject: 'CN=kube-apiserver-kubelet-client,O=kubeadm:cluster-admins',
    dns: [],
    ips: [],
    eku: 'TLS Web Client Authentication',
  },
  { file: 'front-proxy-ca', ca: undefined, subject: 'CN=front-proxy-ca', dns: ['front-proxy-ca'], ips: [], eku: undefined },
  {
    file: 'front-proxy-client',
    ca: 'front-proxy-ca',
    subject: 'CN=front-proxy-client',
    dns: [],
    ips: [],
    eku: 'TLS Web Client Authentication',
  },
  { file: 'etcd/ca', ca: undefined, subject: 'CN=etcd-ca', dns: ['etcd-ca'], ips: [], eku: undefined },
  { file: 'etcd/server', ...ETCD_MEMBER },
  { file: 'etcd/peer', ...ETCD_MEMBER },
  {
    file: 'etcd/healthcheck-client',
    ca: 'etcd/ca',
    subject: 'CN=kube-etcd-healthcheck-client',
    dns: [],
    ips: [],
    eku: 'TLS Web Client Authentication',
  },
  {
    file: 'apiserver-etcd-client',
    ca: 'etcd/ca',
    subject: 'CN=kube-apiserver-etcd-client',
    dns: [],
    ips: [],
    eku: 'TLS Web Client Authentication',
  },
];

function ext(file: string, name: string): string {
  return openssl(['x509', '-in', file, '-noout', '-ext', name])
    .split('\n')
    .slice(1)
    .map((l) => l.trim())
    .filter(Boolean)
    .join(', ');
}

describe('certificates, read back with openssl', () => {
  it.each(TABLE)('$file has the fields kubeadm writes', (e) => {
    const crt = join(pki, `${e.file}.crt`);
    const text = openssl(['x509', '-in', crt, '-noout', '-text']);
    expect(openssl(['x509', '-in', crt, '-noout', '-subject', '-nameopt', 'RFC2253']).trim()).toBe(`subject=${e.subject}`);
    expect(text).toContain('Signature Algorithm: sha256WithRSAEncryption');
    expect(text).toContain('Public-Key: (2048 bit)');
    expect(ext(crt, 'basicConstraints')).toBe(e.ca ? 'CA:FALSE' : 'CA:TRUE');
    expect(text).toMatch(/X509v3 Basic Constraints: critical/);
    expect(text).toMatch(/X509v3 Key Usage: critical/);
    expect(ext(crt, 'keyUsage')).toBe(
      e.ca ? 'Digital Signature, Key Encipherment' : 'Digital Signature, Key Encipherment, Certificate Sign',
    );
    expect(ext(crt, 'extendedKeyUsage')).toBe(e.eku ?? '');
    const sans = ext(crt, 'subjectAltName');
    expect(sans).toBe([...e.dns.map((d) => `DNS:${d}`), ...e.ips.map((i) => `IP Address:${i}`)].join(', '));
    // AKI = the issuer's SKI; CAs carry an SKI
    if (e.ca) expect(ext(crt, 'authorityKeyIdentifier')).toBe(ext(join(pki, `${e.ca}.crt`), 'subjectKeyIdentifier'));
    else expect(ext(crt, 'subjectKeyIdentifier')).toMatch(/^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
    // validity: backdated 5 minutes; 1 year for leaves, 10 years for CAs
    const notBefore = new Date(openssl(['x509', '-in', crt, '-noout', '-startdate']).trim().replace('notBefore=', ''));
    const notAfter = new Date(openssl(['x509', '-in', crt, '-noout', '-enddate']).trim().replace('notAfter=', ''));
    expect(Math.abs(started.getTime() - 5 * 60_000 - notBefore.getTime())).toBeLessThan(60_000);
    const years = e.ca ? 1 : 10;
    expect(notAfter.getTime() - notBefore.getTime()).toBe(years * 365 * 86_400_000 + 5 * 60_000);
    // positive serial, at most 63 bits
    const serial = BigInt(`0x${openssl(['x509', '-in', crt, '-noout', '-serial']).trim().replace('serial=', '')}`);
    expect(serial > 0n && serial < 2n ** 63n).toBe(true);
    // PKCS#1 key, 0600; certificate 0644
    expect(readFileSync(join(pki, `${e.file}.key`), 'utf8')).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    expect(statSync(join(pki, `${e.file}.key`)).mode & 0o777).toBe(0o600);
    expect(statSync(crt).mode & 0o777).toBe(0o644);
    // LF line ends, as Go writes PEM (kubeadm compares kubeconfig CA data byte for byte)
    expect(readFileSync(crt, 'utf8')).not.toContain('\r');
  });

  it.each(TABLE.filter((e) => e.ca))('openssl verify accepts $file against its CA', (e) => {
    const result = openssl(['verify', '-x509_strict', '-CAfile', join(pki, `${e.ca}.crt`), join(pki, `${e.file}.crt`)]);
    expect(result.trim()).toBe(`${join(pki, `${e.file}.crt`)}: OK`);
  });

  it('openssl refuses a leaf against the wrong CA', () => {
    const r = spawnSync('openssl', ['verify', '-CAfile', join(pki, 'front-proxy-ca.crt'), join(pki, 'apiserver.crt')], {
      encoding: 'utf8',
    });
    expect(r.status).not.toBe(0);
  });

  it('sa.key and sa.pub are a pair, both 0600', () => {
    const derived = openssl(['pkey', '-in', join(pki, 'sa.key'), '-pubout']);
    expect(derived).toBe(readFileSync(join(pki, 'sa.pub'), 'utf8'));
    expect(statSync(join(pki, 'sa.pub')).mode & 0o777).toBe(0o600);
  });

  it('a worker gets only the cluster CA certificate', () => {
    const root = join(out, 'worker-1', 'etc', 'kubernetes');
    expect(walk(root).map((f) => relative(root, f))).toEqual(['pki/ca.crt']);
    expect(readFileSync(join(root, 'pki/ca.crt'), 'utf8')).toBe(readFileSync(join(pki, 'ca.crt'), 'utf8'));
  });
});

describe('kubeconfigs, loaded by the real kubectl', () => {
  const cases = [
    {
      file: 'admin.conf',
      user: 'kubernetes-admin',
      subject: 'CN=kubernetes-admin,O=kubeadm:cluster-admins',
      server: 'https://k8s-api.example.com:8443',
    },
    {
      file: 'super-admin.conf',
      user: 'kubernetes-super-admin',
      subject: 'CN=kubernetes-super-admin,O=system:masters',
      server: 'https://k8s-api.example.com:8443',
    },
    {
      file: 'kubelet.conf',
      user: 'system:node:cp-1',
      subject: 'CN=system:node:cp-1,O=system:nodes',
      server: 'https://k8s-api.example.com:8443',
    },
    {
      file: 'controller-manager.conf',
      user: 'system:kube-controller-manager',
      subject: 'CN=system:kube-controller-manager',
      server: 'https://192.168.56.10:6443',
    },
    { file: 'scheduler.conf', user: 'system:kube-scheduler', subject: 'CN=system:kube-scheduler', server: 'https://192.168.56.10:6443' },
  ];
  it.each(cases)('$file', (c) => {
    const file = join(out, 'cp-1', 'etc', 'kubernetes', c.file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const context = execFileSync('kubectl', ['config', 'current-context', '--kubeconfig', file], { encoding: 'utf8' }).trim();
    expect(context).toBe(`${c.user}@lab-cluster`);
    const view = JSON.parse(
      execFileSync('kubectl', ['config', 'view', '--raw', '-o', 'json', '--kubeconfig', file], { encoding: 'utf8' }),
    ) as {
      clusters: Array<{ name: string; cluster: { server: string; 'certificate-authority-data': string } }>;
      users: Array<{ name: string; user: { 'client-certificate-data': string; 'client-key-data': string } }>;
      contexts: Array<{ name: string; context: { cluster: string; user: string } }>;
    };
    expect(view.clusters.map((x) => [x.name, x.cluster.server])).toEqual([['lab-cluster', c.server]]);
    expect(view.users.map((u) => u.name)).toEqual([c.user]);
    expect(view.contexts).toEqual([{ name: `${c.user}@lab-cluster`, context: { cluster: 'lab-cluster', user: c.user } }]);
    const ca = Buffer.from(view.clusters[0]!.cluster['certificate-authority-data'], 'base64').toString();
    expect(ca).toBe(readFileSync(join(pki, 'ca.crt'), 'utf8'));
    const cert = Buffer.from(view.users[0]!.user['client-certificate-data'], 'base64').toString();
    expect(openssl(['x509', '-noout', '-subject', '-nameopt', 'RFC2253'], cert).trim()).toBe(`subject=${c.subject}`);
    expect(openssl(['x509', '-noout', '-ext', 'extendedKeyUsage'], cert)).toContain('TLS Web Client Authentication');
    const certFile = join(tempDir('kc'), 'client.crt');
    writeFileSync(certFile, cert);
    expect(openssl(['verify', '-CAfile', join(pki, 'ca.crt'), certFile]).trim()).toMatch(/: OK$/);
    const key = Buffer.from(view.users[0]!.user['client-key-data'], 'base64').toString();
    expect(openssl(['pkey', '-pubout'], key)).toBe(openssl(['x509', '-noout', '-pubkey'], cert));
  });
});

describe('re-runs and tampering', () => {
  it('a second certs generate changes no file', () => {
    const before = checksums(out);
    const r = cli(['certs', 'generate', '-i', join(out, '..', 'inventory.yaml'), '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    // 3 CAs, 7 leaf certificates, 5 kubeconfigs
    expect(r.stdout).toContain('0 created, 0 renewed, 15 kept, 0 not matching their spec');
    expect(checksums(out)).toEqual(before);
  });

  it('a tampered certificate is reported with the difference, not replaced; renew replaces it', () => {
    const dir = tempDir('tamper');
    writeFileSync(join(dir, 'inventory.yaml'), INVENTORY);
    const copy = join(dir, 'out');
    expect(cli(['certs', 'generate', '-i', join(dir, 'inventory.yaml'), '--out', copy]).code).toBe(0);
    const pkiCopy = join(copy, 'cp-1', 'etc', 'kubernetes', 'pki');
    // a self-signed apiserver certificate without the cluster's SANs, as a stale or forged file would be
    selfSignedCertificate({
      key: join(pkiCopy, 'apiserver.key'),
      cert: join(pkiCopy, 'apiserver.crt'),
      subject: '/CN=kube-apiserver',
      days: 30,
    });
    const tampered = readFileSync(join(pkiCopy, 'apiserver.crt'));
    const r = cli(['certs', 'generate', '-i', join(dir, 'inventory.yaml'), '--out', copy]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /mismatch cp-1: pki\/apiserver\.crt — missing SAN .*kubernetes.*; not signed by the current CA \(issuer CN=kube-apiserver\)/,
    );
    expect(r.stderr).toContain('kubestrap certs renew');
    expect(readFileSync(join(pkiCopy, 'apiserver.crt'))).toEqual(tampered);
    const renewed = cli(['certs', 'renew', 'apiserver', '-i', join(dir, 'inventory.yaml'), '--out', copy]);
    expect(renewed.code, renewed.stdout + renewed.stderr).toBe(0);
    expect(renewed.stdout).toContain('renewed  cp-1: pki/apiserver.crt');
    expect(openssl(['verify', '-CAfile', join(pkiCopy, 'ca.crt'), join(pkiCopy, 'apiserver.crt')]).trim()).toMatch(/: OK$/);
  });

  it('an unknown renew target is a usage error', () => {
    const r = cli(['certs', 'renew', 'apiservr', '-i', join(out, '..', 'inventory.yaml'), '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot renew "apiservr"');
  });

  it('check-expiration lists every certificate and kubeconfig with its CA', () => {
    const r = cli(['certs', 'check-expiration', '--dir', join(out, 'cp-1', 'etc', 'kubernetes'), '--output', 'json']);
    const rows = JSON.parse(r.stdout) as Array<{ name: string; residualDays: number; authority: string; kind: string }>;
    expect(rows.map((x) => x.name).sort()).toEqual(
      [
        ...['admin.conf', 'super-admin.conf', 'kubelet.conf', 'controller-manager.conf', 'scheduler.conf'],
        ...['ca', 'apiserver', 'apiserver-kubelet-client', 'front-proxy-ca', 'front-proxy-client'],
        ...['etcd-ca', 'etcd-server', 'etcd-peer', 'etcd-healthcheck-client', 'apiserver-etcd-client'],
      ].sort(),
    );
    expect(rows.find((x) => x.name === 'apiserver')).toMatchObject({ residualDays: 364, authority: 'ca', kind: 'certificate' });
    expect(rows.find((x) => x.name === 'etcd-ca')).toMatchObject({ kind: 'ca' });
  });
});

describe('kubeadm-spec §12 test vectors', () => {
  const joshua = { id: 'joshua', secret: 'my voice is my passcode' };
  const payload = 'Hello from the other side. I must have called a thousand times.';
  it('JWS vectors 1–3', () => {
    expect(signDetached(payload, joshua)).toBe('eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..VShe2taLd-YTrmWuRkcL_8QTNDHYxQIEBsAYYiIj1_8');
    expect(signDetached('', joshua)).toBe('eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..7Ui1ALizW4jXphVUB7xUqC9vLYLL9RZeOFfVLoB7Tgk');
    expect(signDetached(payload, { id: 'joshua', secret: '' })).toBe(
      'eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..UfkqvDGiIFxrMnFseDj9LYJOLNrvjW8aHhF71mvvAs8',
    );
  });

  it('JWS vector 4 over the dry-run cluster-info, and kubestrap writes that kubeconfig byte for byte', () => {
    const kubeconfig = testdata('dryrun-cluster-info-kubeconfig.yaml');
    const token = parseToken('abcdef.abcdef0123456789');
    const jws = 'eyJhbGciOiJIUzI1NiIsImtpZCI6ImFiY2RlZiJ9..rh3cVKiU2mdt3CqHzC81sNE-4WQLRHMtXduHWfSbrIM';
    expect(signDetached(kubeconfig, token)).toBe(jws);
    expect(verifyDetached(jws, kubeconfig, token)).toBe(true);
    expect(verifyDetached(jws, `${kubeconfig} `, token)).toBe(false);
    expect(verifyDetached(jws, kubeconfig, { id: 'abcdef', secret: 'abcdef0123456788' })).toBe(false);
    expect(verifyDetached(jws, kubeconfig, { id: 'abcdeg', secret: 'abcdef0123456789' })).toBe(false);
    expect(clusterInfoKubeconfig('https://192.168.0.101:6443', testdata('dryrun-ca.crt'))).toBe(kubeconfig);
  });

  it('CA pin vectors 5–7', () => {
    expect(caPin(testdata('dryrun-ca.crt'))).toBe('sha256:3b793efefe27a19f93b0fbe6e637e9c41d0dde8a377d6ab1c0f656bf1136dd8a');
    expect(caPin(testdata('pubkeypin-test-cert.pem'))).toBe('sha256:345959acb2c3b2feb87d281961c893f62a314207ef02599f1cc4a5fb255480b3');
    expect(caPin(testdata('pubkeypin-test-cert2.pem'))).toBe('sha256:d1ef16989563fe7775f81a7dc55ce16a467ca9baedae2d081cb0a068b6a81971');
    expect(pinMatches(testdata('dryrun-ca.crt'), ['sha256:345959acb2c3b2feb87d281961c893f62a314207ef02599f1cc4a5fb255480b3'])).toBe(false);
    expect(validatePin('sha256:3B79')).toMatch(/expected sha256:<64 lower-case hex characters>/);
  });

  it('config-hash vectors 8–10', () => {
    expect(configMapChecksum({ foo: 'bar' }, { bar: Buffer.from('baz') })).toBe(
      'sha256:c8f8b724728a6d6684106e5e64e94ce811c9965d19dd44dd073cf86cf43bc238',
    );
    expect(configMapChecksum({ foo: 'bar' })).toBe('sha256:fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9');
    expect(configMapChecksum({}, { bar: Buffer.from('baz') })).toBe(
      'sha256:baa5a0964d3320fbc0c6a922140453c8513ea24ab8fd0577034804a967248096',
    );
  });

  it("the generated CA's pin equals the openssl x509 | pkey | sha256 pipeline", () => {
    const der = execFileSync(
      'sh',
      ['-c', `openssl x509 -in ${join(pki, 'ca.crt')} -pubkey -noout | openssl pkey -pubin -outform der | sha256sum`],
      { encoding: 'utf8' },
    );
    expect(caPin(readFileSync(join(pki, 'ca.crt'), 'utf8'))).toBe(`sha256:${der.split(' ')[0]}`);
  });
});

describe('bootstrap tokens', () => {
  it("are generated in kubeadm's format and parse back", () => {
    for (let i = 0; i < 50; i++) {
      const text = formatToken(generateToken());
      expect(text).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
      expect(formatToken(parseToken(text))).toBe(text);
    }
    expect(cli(['token', 'generate']).stdout.trim()).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
  });

  it.each(['Abcdef.1234567890123456', 'abcdef.123456789012345', 'abcdef1234567890123456', 'abcde.1234567890123456'])(
    'rejects %s without echoing it',
    (bad) => {
      expect(() => parseToken(bad)).toThrow(/invalid bootstrap token/);
      expect(() => parseToken(bad)).not.toThrow(bad);
    },
  );

  it('produce the token Secret kubeadm creates', () => {
    const secret = tokenSecret(parseToken('abcdef.0123456789abcdef'), {
      description: 'The default bootstrap token generated by kubestrap.',
      ttlSeconds: 24 * 3600,
      usages: ['signing', 'authentication'],
      groups: ['system:bootstrappers:kubeadm:default-node-token'],
      now: new Date('2024-07-08T12:45:04Z'),
    });
    const decoded = Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
    expect(secret.metadata).toEqual({ name: 'bootstrap-token-abcdef', namespace: 'kube-system' });
    expect(secret.type).toBe('bootstrap.kubernetes.io/token');
    expect(decoded).toEqual({
      'token-id': 'abcdef',
      'token-secret': '0123456789abcdef',
      description: 'The default bootstrap token generated by kubestrap.',
      expiration: '2024-07-09T12:45:04Z',
      'usage-bootstrap-signing': 'true',
      'usage-bootstrap-authentication': 'true',
      'auth-extra-groups': 'system:bootstrappers:kubeadm:default-node-token',
    });
  });
});

describe('upload-certs encryption', () => {
  it('round-trips the control-plane files byte for byte; a wrong key fails cleanly', () => {
    const key = generateCertificateKey();
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    const files = new Map(
      [
        'pki/ca.crt',
        'pki/ca.key',
        'pki/front-proxy-ca.crt',
        'pki/front-proxy-ca.key',
        'pki/sa.key',
        'pki/sa.pub',
        'pki/etcd/ca.crt',
        'pki/etcd/ca.key',
      ].map((p) => [p, readFileSync(join(pki, '..', p))]),
    );
    const data = sealFiles(files, key);
    expect(Object.keys(data).sort()).toEqual(KUBEADM_CERTS_KEYS);
    const opened = openFiles(data, key);
    for (const [path, content] of files) expect(opened.get(path)).toEqual(content);
    expect(() => openFiles(data, generateCertificateKey())).toThrow(/wrong certificate key/);
    expect(() => decrypt(encrypt(Buffer.from('x'), key), 'not-hex')).toThrow(/invalid certificate key/);
  });

  it('uses nonce ‖ ciphertext ‖ tag, decryptable with openssl-compatible AES-256-GCM parameters', () => {
    const key = generateCertificateKey();
    const sealed = encrypt(Buffer.from('hello'), key);
    expect(sealed.length).toBe(12 + 5 + 16);
  });
});

describe('reusing a CA and other key sizes', () => {
  it('certs generate --ca-from signs everything with the supplied CA', () => {
    const dir = tempDir('cafrom');
    const supplied = join(dir, 'my-ca');
    execFileSync('mkdir', ['-p', supplied]);
    selfSignedCertificate({
      key: join(supplied, 'ca.key'),
      cert: join(supplied, 'ca.crt'),
      subject: '/CN=corporate-k8s-ca',
      days: 3650,
      extensions: ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign'],
    });
    writeFileSync(join(dir, 'inventory.yaml'), INVENTORY);
    const r = cli(['certs', 'generate', '-i', join(dir, 'inventory.yaml'), '--out', join(dir, 'out'), '--ca-from', supplied]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const p = join(dir, 'out', 'cp-1', 'etc', 'kubernetes', 'pki');
    expect(readFileSync(join(p, 'ca.crt'), 'utf8')).toBe(readFileSync(join(supplied, 'ca.crt'), 'utf8'));
    expect(openssl(['verify', '-CAfile', join(supplied, 'ca.crt'), join(p, 'apiserver.crt')]).trim()).toMatch(/: OK$/);
    expect(r.stdout).toMatch(/kept +cp-1: pki\/ca\.crt/);
    // the other CAs were generated, since none were supplied
    expect(r.stdout).toMatch(/created +cp-1: pki\/front-proxy-ca\.crt/);
  });

  it('keyAlgorithm RSA-3072 gives 3072-bit keys', () => {
    const dir = tempDir('3072');
    writeFileSync(join(dir, 'inventory.yaml'), `${INVENTORY}    keyAlgorithm: RSA-3072\n`);
    const r = cli(['certs', 'generate', '-i', join(dir, 'inventory.yaml'), '--out', join(dir, 'out')]);
    expect(r.code, r.stderr).toBe(0);
    const text = openssl(['x509', '-in', join(dir, 'out', 'cp-1', 'etc', 'kubernetes', 'pki', 'apiserver.crt'), '-noout', '-text']);
    expect(text).toContain('Public-Key: (3072 bit)');
  });
});
