/**
 * The package manager's lock, held by a real dpkg on a lab host (over real SSH): kubestrap waits,
 * with a progress line naming the holder's PID and command on every poll, and goes on once the
 * lock is free; a lock held past the wait is a clear error naming the holder.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { packageOps } from '../../src/facts/packages.js';
import { whenUnlocked } from '../../src/facts/package-lock.js';
import type { Host } from '../../src/transport/host.js';
import { openLabHost } from './helpers.js';
import { holdDpkgLock } from './lock-holder.js';
import { startLab, type Lab } from './lab.js';

let lab: Lab;
let host: Host;
const locks = packageOps('apt')!.locks;

beforeAll(async () => {
  lab = await startLab({ hosts: 1, prefix: 'lock' });
  host = await openLabHost(lab, lab.hosts[0]!);
});

afterAll(async () => {
  await host?.close();
  await lab?.stop();
});

/** What the phases give whenUnlocked: a progress sink, collecting its lines. */
function waiting(): { progress: (line: string) => void; lines: string[] } {
  const lines: string[] = [];
  return { progress: (line) => lines.push(line), lines };
}

test('a lock held past the wait: the error names the lock, the PID and the command of its holder', async () => {
  const holder = await holdDpkgLock(lab, lab.hosts[0]!, 8);
  const { progress, lines } = waiting();
  await expect(whenUnlocked(host, locks, progress, 3000)).rejects.toThrow(
    /^the package manager stayed locked for 3 s: \/var\/lib\/dpkg\/lock\S* held by PID \d+ \(dpkg -i \/root\/holder\.deb\).*; let it finish \(or stop it\), then run kubestrap again$/,
  );
  expect(lines[0]).toMatch(
    /^waiting for the package manager \(0 s of 3 s\): \/var\/lib\/dpkg\/lock\S* held by PID \d+ \(dpkg -i \/root\/holder\.deb\)/,
  );
  await holder.done;
});

test('a lock released while kubestrap waits: a progress line per poll, then it goes on; a free lock costs one check', async () => {
  const holder = await holdDpkgLock(lab, lab.hosts[0]!, 5);
  const { progress, lines } = waiting();
  await whenUnlocked(host, locks, progress);
  expect(lines.length).toBeGreaterThanOrEqual(2);
  for (const line of lines) expect(line).toMatch(/held by PID \d+ \(dpkg -i \/root\/holder\.deb\)/);
  // the lock is free: dpkg is done with the package
  expect(lab.inside(lab.hosts[0]!, 'pgrep -x dpkg || echo none').trim()).toBe('none');
  await holder.done;
  const free = waiting();
  await whenUnlocked(host, locks, free.progress);
  expect(free.lines).toEqual([]);
});
