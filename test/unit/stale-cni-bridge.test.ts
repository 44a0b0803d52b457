import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { forgetFlannelMembership } from '../../src/join/stale-cni-bridge.js';

/** The script run by sh with `ip` and `rm` as FAKE shell functions: a bridge at `address`, or none. */
const run = (address: string | undefined) =>
  execFileSync(
    'sh',
    [
      '-c',
      [
        `ip() { case "$*" in "-4 -o addr show dev cni0") ${address ? `echo "5: cni0    inet ${address} brd x scope global cni0"` : 'return 1'};; "link show cni0") ${address ? 'return 0' : 'return 1'};; *) echo "ip $*";; esac; }`,
        'rm() { echo "rm $*"; }',
        forgetFlannelMembership(),
      ].join('\n'),
    ],
    { encoding: 'utf8' },
  );

describe("Flannel's state of a node's earlier membership, before it joins again", () => {
  it('the old range (subnet.env) and the bridge addressed for it go, naming the address it had', () => {
    expect(run('10.244.2.1/24')).toBe('rm -f /run/flannel/subnet.env\nip link delete cni0\ncni0 10.244.2.1/24\n');
  });
  it('a host without the bridge (never ran Flannel, or reset) has nothing removed', () => {
    expect(run(undefined)).toBe('');
  });
});
