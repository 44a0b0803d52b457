/**
 * Host key verification. A key is accepted only when it matches the inventory's pinned
 * fingerprint or an entry of the known_hosts file; an unknown key is recorded only when the
 * operator asked for it; a changed key is always refused.
 */
import { createHash, createHmac } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { HostKeyTarget } from './ssh.js';

/** OpenSSH's fingerprint format: SHA256:<unpadded base64 of the SHA-256 of the key blob>. */
export function fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named inside an SSH public key blob (e.g. ssh-ed25519). */
export function keyType(keyBlob: Buffer): string {
  const length = keyBlob.readUInt32BE(0);
  return keyBlob.subarray(4, 4 + length).toString('ascii');
}

/** How known_hosts names a host: bare for port 22, [host]:port otherwise. */
export function knownHostsName(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

interface KnownHostEntry {
  readonly patterns: string;
  readonly type: string;
  readonly key: Buffer;
  readonly revoked: boolean;
}

function globMatch(pattern: string, name: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  );
  return regex.test(name);
}

function hostMatches(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) {
    const [, , salt, hash] = patterns.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  let matched = false;
  for (const pattern of patterns.split(',')) {
    if (pattern.startsWith('!')) {
      if (globMatch(pattern.slice(1), name)) return false;
    } else if (globMatch(pattern, name)) matched = true;
  }
  return matched;
}

function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let revoked = false;
    if (fields[0]?.startsWith('@')) {
      const marker = fields.shift();
      if (marker === '@cert-authority') continue; // certificate authorities are not supported; ignore, do not trust
      revoked = marker === '@revoked';
    }
    const [patterns, type, key] = fields;
    if (!patterns || !type || !key) continue;
    entries.push({ patterns, type, key: Buffer.from(key, 'base64'), revoked });
  }
  return entries;
}

/** ssh's own known_hosts, where nothing else names one. */
export const DEFAULT_KNOWN_HOSTS = '~/.ssh/known_hosts';

export type HostKeyVerdict = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export interface HostKeyPolicyOptions {
  readonly knownHostsFile: string;
  /** Record unknown keys instead of refusing them (--accept-new-host-keys). */
  readonly acceptNew: boolean;
}

export class HostKeyPolicy {
  private readonly files = new Map<string, Promise<KnownHostEntry[]>>();
  private appending: Promise<void> = Promise.resolve();

  constructor(private readonly options: HostKeyPolicyOptions) {}

  private load(file: string): Promise<KnownHostEntry[]> {
    let entries = this.files.get(file);
    if (!entries) {
      entries = readFile(file, 'utf8').then(parseKnownHosts, (err: unknown) => {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      });
      this.files.set(file, entries);
    }
    return entries;
  }

  /** `acceptNew: false` refuses an unknown key whatever --accept-new-host-keys says: for addresses kubestrap did not get from the operator. */
  async verify(target: HostKeyTarget, keyBlob: Buffer, acceptNew = this.options.acceptNew): Promise<HostKeyVerdict> {
    const presented = fingerprint(keyBlob);
    const type = keyType(keyBlob);
    const who = `${target.name} (${target.address}:${target.port})`;
    if (target.pinned) {
      if (target.pinned === presented) return { ok: true };
      return {
        ok: false,
        reason:
          `${who}: host key does not match the pinned fingerprint — refusing to connect (possible man-in-the-middle or a reinstalled host).\n` +
          `  pinned in inventory: ${target.pinned}\n  presented (${type}): ${presented}\n` +
          `  If the host was really reinstalled, verify the new key out of band and update hostKey in the inventory.`,
      };
    }
    // as ssh: every file is read, a new key goes to the first; HostKeyAlias replaces the address
    const files = target.knownHostsFiles?.length ? target.knownHostsFiles : [this.options.knownHostsFile];
    const file = files.join(' ');
    const name = target.hostKeyAlias ?? knownHostsName(target.address, target.port);
    const entries = (await Promise.all(files.map((f) => this.load(f)))).flat().filter((e) => hostMatches(e.patterns, name));
    if (entries.some((e) => e.revoked && e.key.equals(keyBlob))) {
      return { ok: false, reason: `${who}: host key ${presented} is marked @revoked in ${file}` };
    }
    if (entries.some((e) => !e.revoked && e.key.equals(keyBlob))) return { ok: true };
    const sameType = entries.filter((e) => !e.revoked && e.type === type);
    if (sameType.length) {
      return {
        ok: false,
        reason:
          `${who}: HOST KEY CHANGED — refusing to connect (possible man-in-the-middle or a reinstalled host).\n` +
          `  known (${file}): ${sameType.map((e) => fingerprint(e.key)).join(', ')}\n  presented (${type}): ${presented}\n` +
          `  If the change is expected, verify the new key out of band and remove the old entry: ssh-keygen -R '${name}' -f ${files[0]}`,
      };
    }
    // a host known by another key type is not a new host: a key of a new type may be an attacker's (audit L4)
    const otherTypes = entries.filter((e) => !e.revoked);
    if (otherTypes.length) {
      return {
        ok: false,
        reason:
          `${who}: presented a ${type} host key, but ${file} knows it by ${[...new Set(otherTypes.map((e) => e.type))].join(', ')} (${otherTypes.map((e) => fingerprint(e.key)).join(', ')}) — refusing to connect, --accept-new-host-keys or not.
` +
          `  If the host really changed its keys, verify the new one out of band and pin it (hosts[].hostKey: ${presented}) or replace the entry: ssh-keygen -R '${name}' -f ${files[0]}`,
      };
    }
    if (!acceptNew) {
      return {
        ok: false,
        reason:
          `${who}: unknown host key ${presented} (${type}) — refusing to connect.\n` +
          `  Verify it out of band (on the host: ssh-keygen -lf /etc/ssh/ssh_host_${type.replace(/^ssh-/, '')}_key.pub), then either pin it in the inventory\n` +
          `  (hosts[].hostKey: ${presented}) or re-run with --accept-new-host-keys to record it in ${files[0]}.`,
      };
    }
    await this.record(files[0]!, name, type, keyBlob);
    return { ok: true };
  }

  /** Appends one entry; appends are serialised so concurrent hosts do not interleave lines. */
  private record(file: string, name: string, type: string, keyBlob: Buffer): Promise<void> {
    this.appending = this.appending.then(async () => {
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      await appendFile(file, `${name} ${type} ${keyBlob.toString('base64')}\n`, { mode: 0o600 });
      const entries = await this.load(file);
      entries.push({ patterns: name, type, key: keyBlob, revoked: false });
    });
    return this.appending;
  }
}
