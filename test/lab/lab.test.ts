/** The lab itself: hosts are real and isolated, and nothing is left after they stop. */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startLab } from './lab.js';

function leftovers(id: number): string[] {
  const found: string[] = [];
  const netns = existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(`kslab${id}-`)) : [];
  if (netns.length) found.push(`netns ${netns.join(',')}`);
  const links = execFileSync('ip', ['-br', 'link'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.startsWith(`kslab${id} `) || l.startsWith(`ksv${id}x`));
  if (links.length) found.push(`links ${links.join(',')}`);
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(`/kubestrap-lab/${id}/`));
  if (mounts.length) found.push(`mounts ${mounts.length}`);
  const procs = execFileSync('sh', ['-c', `ps -eo args | grep -F "kubestrap-lab/${id}/" | grep -v grep || true`], {
    encoding: 'utf8',
  }).trim();
  if (procs) found.push(`processes ${procs}`);
  return found;
}

describe('namespace lab', () => {
  it('starts isolated hosts and removes them completely, three times in a row', async () => {
    const etcBefore = execFileSync('sh', ['-c', 'find /etc -xdev -type f -newer /proc/1 2>/dev/null | sort | xargs -r sha256sum'], {
      encoding: 'utf8',
    });
    for (let round = 0; round < 3; round++) {
      const lab = await startLab({ hosts: 3, prefix: 'iso' });
      const [a, b] = [lab.hosts[0]!, lab.hosts[1]!];
      expect(lab.inside(a, 'hostname').trim()).toBe(a.name);
      expect(lab.inside(a, 'ip -4 -o addr show eth0')).toContain(a.ip);
      // each host has its own /etc
      lab.inside(a, 'echo only-on-a > /etc/kubestrap-marker');
      expect(lab.inside(b, 'cat /etc/kubestrap-marker 2>/dev/null || echo absent').trim()).toBe('absent');
      // machine-wide kernel settings are protected; per-namespace network settings are not
      expect(lab.inside(a, 'sysctl -w vm.swappiness=1 2>&1 || true')).toMatch(/permission denied|Read-only/i);
      expect(lab.inside(a, 'sysctl -w net.ipv4.ip_forward=1').trim()).toBe('net.ipv4.ip_forward = 1');
      expect(lab.inside(a, 'cat /proc/1/environ | tr "\\0" "\\n" | grep ^container=').trim()).toBe('container=kubestrap-lab');
      await lab.stop();
      expect(leftovers(lab.id)).toEqual([]);
    }
    expect(existsSync('/etc/kubestrap-marker')).toBe(false);
    const etcAfter = execFileSync('sh', ['-c', 'find /etc -xdev -type f -newer /proc/1 2>/dev/null | sort | xargs -r sha256sum'], {
      encoding: 'utf8',
    });
    expect(etcAfter).toBe(etcBefore);
    expect(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()).toBe('0');
  });
});
