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
