/** IPv4/IPv6 address and CIDR arithmetic with bigint, enough for subnet checks and derived IPs. */
import { isIPv4, isIPv6 } from 'node:net';

export interface Cidr {
  readonly family: 4 | 6;
  readonly network: bigint;
  readonly prefix: number;
  readonly text: string;
}

function bits(family: 4 | 6): number {
  return family === 4 ? 32 : 128;
}

export function parseIp(text: string): { family: 4 | 6; value: bigint } | undefined {
  if (isIPv4(text)) {
    return { family: 4, value: text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n) };
  }
  if (isIPv6(text)) {
    const [head = '', tail] = text.split('::');
    const groups = (s: string) => (s ? s.split(':') : []);
    let parts = groups(head);
    if (tail !== undefined) {
      const rest = groups(tail);
      parts = [...parts, ...Array<string>(8 - parts.length - rest.length).fill('0'), ...rest];
    }
    if (parts.length !== 8 || parts.some((p) => p.includes('.'))) return undefined;
    return { family: 6, value: parts.reduce((acc, p) => (acc << 16n) | BigInt(parseInt(p, 16)), 0n) };
  }
  return undefined;
}

export function formatIp(family: 4 | 6, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 255n)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => ((value >> BigInt((7 - i) * 16)) & 0xffffn).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** Parses `a.b.c.d/n`; returns a message when invalid. Host bits must be zero, as Kubernetes requires. */
export function parseCidr(text: string): Cidr | string {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!match) return `${JSON.stringify(text)} is not a CIDR like 10.96.0.0/12`;
  const ip = parseIp(match[1]!);
  if (!ip) return `${JSON.stringify(match[1])} is not an IP address`;
  const prefix = Number(match[2]);
  if (prefix > bits(ip.family)) return `prefix /${prefix} is longer than ${bits(ip.family)} bits`;
  const hostBits = BigInt(bits(ip.family) - prefix);
  const network = (ip.value >> hostBits) << hostBits;
  if (network !== ip.value) {
    return `${text} has host bits set; the network is ${formatIp(ip.family, network)}/${prefix}`;
  }
  return { family: ip.family, network, prefix, text };
}

export function cidrSize(c: Cidr): bigint {
  return 1n << BigInt(bits(c.family) - c.prefix);
}

export function cidrContains(c: Cidr, ip: { family: 4 | 6; value: bigint }): boolean {
  return c.family === ip.family && ip.value >= c.network && ip.value < c.network + cidrSize(c);
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  return a.network < b.network + cidrSize(b) && b.network < a.network + cidrSize(a);
}

/** The n-th address of a subnet (1 → the API server service IP, 10 → the cluster DNS IP). */
export function nthAddress(c: Cidr, n: number): string {
  return formatIp(c.family, c.network + BigInt(n));
}

/** One spelling per address (0:0:0:0:0:0:0:1 and ::1 compare equal); non-IPs pass through. */
export function canonicalIp(text: string): string {
  const ip = parseIp(text);
  return ip ? formatIp(ip.family, ip.value) : text;
}
