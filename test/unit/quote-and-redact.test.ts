import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Redactor } from '../../src/log/redact.js';
import { quote, quoteArgv } from '../../src/transport/quote.js';

describe('POSIX quoting, checked with the real dash', () => {
  const hostile = ["it's", 'a b', '$(id)', '`id`', '"double"', 'back\\slash', 'new\nline', '', '*', '~root', '-n', "''", 'tab\there'];
  it.each(hostile)('%j reaches the command verbatim', (arg) => {
    const out = execFileSync('dash', ['-c', `printf '%s' ${quote(arg)}`], { encoding: 'utf8' });
    expect(out).toBe(arg);
  });

  it('keeps argv boundaries', () => {
    const out = execFileSync('dash', ['-c', `printf '<%s>' ${quoteArgv(hostile)}`], { encoding: 'utf8' });
    expect(out).toBe(hostile.map((a) => `<${a}>`).join(''));
  });

  it('leaves safe words unquoted, for readable logs', () => {
    expect(quoteArgv(['systemctl', 'restart', 'kubelet.service', '/etc/a-b_c'])).toBe('systemctl restart kubelet.service /etc/a-b_c');
  });
});

describe('redaction', () => {
  it('removes registered secrets, private key blocks and bootstrap tokens', () => {
    const r = new Redactor();
    r.add('s3cret-pass');
    const key = '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----';
    const text = `password s3cret-pass, key ${key}, token abcdef.0123456789abcdef`;
    const out = r.redact(text);
    expect(out).not.toContain('s3cret-pass');
    expect(out).not.toContain('MIIEpAIBAAKCAQEA');
    expect(out).not.toContain('0123456789abcdef');
    expect(out).toContain('abcdef.[REDACTED]');
  });

  it('ignores secrets too short to redact safely', () => {
    const r = new Redactor();
    r.add('a');
    expect(r.redact('a cat')).toBe('a cat');
  });
});

describe('shapes of secrets and hostile text (audit L12)', () => {
  it('base64 key data of kubeconfigs and registry credentials are redacted by shape', async () => {
    const { redactShapes } = await import('../../src/log/redact.js');
    const kubeconfig =
      'users:\n- name: admin\n  user:\n    client-certificate-data: LS0tLS1CRUdJTg==\n    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQ==\n';
    expect(redactShapes(kubeconfig)).toContain('client-key-data: [REDACTED]');
    expect(redactShapes(kubeconfig)).toContain('client-certificate-data: LS0tLS1CRUdJTg==');
    expect(
      redactShapes('[plugins."io.containerd.grpc.v1.cri".registry.configs."r".auth]\n  password = "hunter22"\n  auth = "dXNlcjpwYXNz"\n'),
    ).toBe('[plugins."io.containerd.grpc.v1.cri".registry.configs."r".auth]\n  password = "[REDACTED]"\n  auth = "[REDACTED]"\n');
    expect(redactShapes('- --authorization-mode=Node,RBAC')).toBe('- --authorization-mode=Node,RBAC');
  });

  it('control characters from a host are shown escaped, newlines kept', async () => {
    const { printable } = await import('../../src/log/redact.js');
    expect(printable('Debian\u001b]0;owned\u0007 12\nnext')).toBe('Debian\\x1b]0;owned\\x07 12\nnext');
    const { parseFacts } = await import('../../src/facts/probe.js');
    expect(parseFacts('os_pretty=Evil\u001b[2J OS\nhostname=n\u001b[31m1\n').os.prettyName).toBe('Evil\\x1b[2J OS');
  });
});
