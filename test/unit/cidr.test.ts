import { describe, expect, it } from 'vitest';
import { cidrContains, cidrsOverlap, nthAddress, parseCidr, parseIp, type Cidr } from '../../src/util/cidr.js';

const cidr = (t: string) => parseCidr(t) as Cidr;

describe('CIDR arithmetic', () => {
  it('derives the service IPs kubeadm uses', () => {
    expect(nthAddress(cidr('10.96.0.0/12'), 1)).toBe('10.96.0.1');
    expect(nthAddress(cidr('10.96.0.0/12'), 10)).toBe('10.96.0.10');
    expect(nthAddress(cidr('fd00:10:96::/108'), 10)).toBe('fd00:10:96::a');
  });

  it('detects overlaps and containment', () => {
    expect(cidrsOverlap(cidr('10.96.0.0/12'), cidr('10.100.0.0/16'))).toBe(true);
    expect(cidrsOverlap(cidr('10.96.0.0/12'), cidr('10.112.0.0/16'))).toBe(false);
    expect(cidrContains(cidr('172.168.0.0/16'), parseIp('172.168.3.4')!)).toBe(true);
    expect(cidrContains(cidr('172.168.0.0/16'), parseIp('172.169.0.1')!)).toBe(false);
  });

  it('explains invalid input', () => {
    expect(parseCidr('10.96.0.0')).toMatch(/not a CIDR/);
    expect(parseCidr('10.96.0.300/12')).toMatch(/not an IP address/);
    expect(parseCidr('10.96.0.1/12')).toMatch(/host bits set/);
  });
});
