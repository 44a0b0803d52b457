/** Host-key checks against a known_hosts file, with keys made by the real ssh-keygen (audit L4). */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { HostKeyPolicy } from '../../src/transport/host-keys.js';
import { tempDir } from '../lab/helpers.js';

function hostKey(dir: string, type: 'ed25519' | 'rsa'): { line: string; blob: Buffer } {
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', join(dir, type)]);
  const line = readFileSync(join(dir, `${type}.pub`), 'utf8').trim();
  return { line, blob: Buffer.from(line.split(/\s+/)[1]!, 'base64') };
}

test('with --accept-new-host-keys, a key of a new type for a host known by another type is refused and not recorded', async () => {
  const dir = tempDir('hk');
  const [known, attacker] = [hostKey(dir, 'ed25519'), hostKey(dir, 'rsa')];
  const file = join(dir, 'known_hosts');
  writeFileSync(file, `10.0.0.5 ${known.line.split(/\s+/).slice(0, 2).join(' ')}\n`);
  const policy = new HostKeyPolicy({ knownHostsFile: file, acceptNew: true });
  const target = { name: 'cp-1', address: '10.0.0.5', port: 22 };
  expect(await policy.verify(target, known.blob)).toEqual({ ok: true });
  const verdict = await policy.verify(target, attacker.blob);
  expect(verdict.ok).toBe(false);
  expect(!verdict.ok && verdict.reason).toMatch(/presented a ssh-rsa host key, but .* knows it by ssh-ed25519/);
  expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(1);
  // a host nobody knew is still recorded with --accept-new-host-keys
  expect(await policy.verify({ name: 'cp-2', address: '10.0.0.6', port: 22 }, attacker.blob)).toEqual({ ok: true });
  expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(2);
});
