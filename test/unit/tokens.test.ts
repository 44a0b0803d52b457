/**
 * Bootstrap tokens read back from their Secrets and listed in kubeadm's text form. The real
 * comparison with `kubeadm token list` (1.20.2) runs on the cluster (test/e2e/node-join.test.ts);
 * these cases pin the formatting rules found in kubeadm's source: per-row alignment, fixed cell
 * padding, <forever>/<never>/<none>, sorted usages, Go's short human durations.
 */
import { describe, expect, it } from 'vitest';
import { tokenSecret } from '../../src/kube/bootstrap-objects.js';
import { formatTokenTable, shortHumanDuration, tokenFromSecret, type TokenRecord } from '../../src/kube/tokens.js';
import { parseToken } from '../../src/pki/bootstrap-token.js';
import { durationSeconds } from '../../src/util/duration.js';

const now = new Date('2021-03-04T19:51:22Z');

function record(
  token: string,
  options: { ttlSeconds: number; description?: string; usages: Array<'signing' | 'authentication'>; groups: string[] },
): TokenRecord {
  const read = tokenFromSecret(tokenSecret(parseToken(token), { ...options, now }) as unknown as Record<string, unknown>);
  if (typeof read === 'string') throw new Error(read);
  return read;
}

describe('token list', () => {
  it('reads back what tokenSecret wrote, usages sorted as kubeadm shows them', () => {
    const t = record('zlt7nb.lpd06ao1kxf4uwgm', {
      ttlSeconds: 86400,
      usages: ['signing', 'authentication'],
      groups: ['system:bootstrappers:kubeadm:default-node-token'],
    });
    expect(t.usages).toEqual(['authentication', 'signing']);
    expect(t.expires?.toISOString()).toBe('2021-03-05T19:51:22.000Z');
    expect(t.description).toBe('');
  });

  it("prints kubeadm's table: the default token as in a kubeadm 1.20 session log", () => {
    const t = record('zlt7nb.lpd06ao1kxf4uwgm', {
      ttlSeconds: 86400,
      usages: ['signing', 'authentication'],
      groups: ['system:bootstrappers:kubeadm:default-node-token'],
    });
    const at = new Date(now.getTime() + 1000);
    expect(formatTokenTable([t], at)).toBe(
      'TOKEN                     TTL         EXPIRES                USAGES                   DESCRIPTION                                                EXTRA GROUPS\n' +
        'zlt7nb.lpd06ao1kxf4uwgm   23h         2021-03-05T19:51:22Z   authentication,signing   <none>                                                     system:bootstrappers:kubeadm:default-node-token\n',
    );
  });

  it('aligns each row on its own after the first (kubeadm flushes per token) and shows <forever>, <never>, <none>', () => {
    const a = record('aaaaaa.aaaaaaaaaaaaaaaa', {
      ttlSeconds: 7200,
      description: 'a description longer than fifty-six characters, to widen the cell',
      usages: ['authentication'],
      groups: [],
    });
    const b = record('bbbbbb.bbbbbbbbbbbbbbbb', { ttlSeconds: 0, usages: [], groups: [] });
    const lines = formatTokenTable([a, b], now).split('\n');
    expect(lines[1]).toContain('a description longer than fifty-six characters, to widen the cell   <none>');
    expect(lines[2]).toBe(
      'bbbbbb.bbbbbbbbbbbbbbbb   <forever>   <never>   <none>                   <none>                                                     <none>',
    );
  });

  it('skips a Secret that holds no valid token, with a reason that does not repeat it', () => {
    const reason = tokenFromSecret({
      metadata: { name: 'bootstrap-token-xx' },
      data: { 'token-id': Buffer.from('XX').toString('base64'), 'token-secret': Buffer.from('secretsecret').toString('base64') },
    });
    expect(reason).toBe('Secret bootstrap-token-xx does not hold a valid bootstrap token');
  });

  it("Go's short human durations", () => {
    expect([-5000, -500, 59_000, 60_000, 3_599_000, 3_600_000, 86_399_000, 86_400_000, 400 * 86_400_000].map(shortHumanDuration)).toEqual([
      '<invalid>',
      '0s',
      '59s',
      '1m',
      '59m',
      '1h',
      '23h',
      '1d',
      '1y',
    ]);
  });

  it('--ttl durations', () => {
    expect(['24h', '1h30m', '90s', '0', '2h0m5s'].map(durationSeconds)).toEqual([86400, 5400, 90, 0, 7205]);
    expect(['', '1d', 'h', '-1h'].map(durationSeconds).every(Number.isNaN)).toBe(true);
  });
});
