/**
 * The operator's OpenSSH client configuration (~/.ssh/config, or the file of --ssh-config), read
 * for one host the way `ssh HOST` reads it: Host and Match blocks computed by the ssh-config
 * library (first value wins, IdentityFile accumulates), Include expanded here (the library leaves
 * it as a directive), OpenSSH's % tokens and ~ expanded, ProxyJump parsed into hops.
 *
 * Not evaluated, on purpose: `Match exec` (kubestrap does not run commands out of a
 * configuration file behind the operator's back) and `Match canonical`/`final` beyond what the
 * library does. Syntax errors in the values kubestrap uses name the file and line, as ssh does.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir, hostname, userInfo } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import SSHConfig from 'ssh-config';

/** One hop of a ProxyJump chain, as written (`[user@]host[:port]` or `ssh://[user@]host[:port]`). */
export interface JumpHop {
  readonly host: string;
  readonly user?: string;
  readonly port?: number;
}

/** What the configuration says about one host; absent fields are not set there. */
export interface SshHostConfig {
  /** The address to connect to: HostName with its tokens expanded, else the name itself. */
  readonly hostName: string;
  readonly user?: string;
  readonly port?: number;
  /** IdentityFile values in order, ~ and tokens expanded. */
  readonly identityFiles: readonly string[];
  readonly identitiesOnly: boolean;
  /** Empty for none (or ProxyJump none). */
  readonly proxyJump: readonly JumpHop[];
  readonly userKnownHostsFiles?: readonly string[];
  readonly hostKeyAlias?: string;
  readonly strictHostKeyChecking?: string;
}

export class SshConfigError extends Error {}

/** OpenSSH's READCONF_MAX_DEPTH: Include nesting beyond this is an error there too. */
const MAX_INCLUDE_DEPTH = 16;
/** Files read through Include for one lookup, in all: depth alone does not bound a file that includes the next several times. */
const MAX_INCLUDED_FILES = 1024;
/** What a HostName may expand to: a DNS name, an IPv4 or an IPv6 address (it names the host in messages and known_hosts). */
const SAFE_HOST = /^[A-Za-z0-9._:-]+$/;
const HOP = /^(?:ssh:\/\/)?(?:([^@\s/:]+)@)?(\[[0-9A-Fa-f:.]+\]|[^@\s/:[\]]+)(?::(\d+))?\/?$/;

interface SourceLine {
  readonly text: string;
  readonly file: string;
  readonly line: number;
}

/** A directive line split as ssh does: keyword, then `=` or whitespace, then the value. */
function directive(text: string): { keyword: string; value: string } | undefined {
  const m = /^\s*([A-Za-z]+)\s*(?:=\s*|\s+)(.*?)\s*$/.exec(text);
  return m ? { keyword: m[1]!.toLowerCase(), value: m[2]! } : undefined;
}

function port(text: string, where: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535)
    throw new SshConfigError(`${where}: Port ${JSON.stringify(text)} is not a port number (1-65535)`);
  return n;
}

function parseHops(value: string, where: string): JumpHop[] {
  if (value.toLowerCase() === 'none') return [];
  return value.split(',').map((part) => {
    const m = HOP.exec(part.trim());
    if (!m) throw new SshConfigError(`${where}: ProxyJump hop ${JSON.stringify(part)} is not [user@]host[:port]`);
    return { host: m[2]!.replace(/^\[|\]$/g, ''), ...(m[1] ? { user: m[1] } : {}), ...(m[3] ? { port: port(m[3], where) } : {}) };
  });
}

/** Reads files once per configuration, whichever hosts include them. */
class Files {
  private readonly cache = new Map<string, string | undefined>();
  read(path: string): string | undefined {
    if (!this.cache.has(path)) this.cache.set(path, existsSync(path) ? readFileSync(path, 'utf8') : undefined);
    return this.cache.get(path);
  }
}

export class SshConfigFile {
  private readonly files = new Files();

  private constructor(
    /** The file read, for messages. */
    readonly path: string,
    private readonly home: string,
  ) {}

  /** The configuration at `path`; a file that does not exist is an empty configuration unless `required` (the operator named it). */
  static load(path = join(homedir(), '.ssh', 'config'), options: { required?: boolean; home?: string } = {}): SshConfigFile {
    const config = new SshConfigFile(path, options.home ?? homedir());
    if (options.required && config.files.read(path) === undefined) throw new SshConfigError(`${path}: no such SSH configuration file`);
    // every line is checked now, as ssh checks the whole file, so a typo is reported before any host is contacted
    config.expand(path, 0, undefined, { files: 0 });
    return config;
  }

  /** What `ssh NAME` would use. */
  lookup(name: string): SshHostConfig {
    const lines = this.expand(this.path, 0, name, { files: 0 });
    const computed = SSHConfig.parse(lines.map((l) => l.text).join('\n')).compute(name, { matchExec: false });
    const one = (key: string) => {
      const value = computed[key];
      return Array.isArray(value) ? value[0] : value;
    };
    /** The line a value came from (the first one with that keyword and value), for messages. */
    const where = (keyword: string) => {
      const wanted = ([] as string[]).concat(computed[keyword] ?? [])[0];
      const found = lines.find((l) => {
        const d = directive(l.text);
        return d?.keyword === keyword.toLowerCase() && d.value.replace(/^"|"$/g, '') === wanted;
      });
      return found ? `${found.file}:${found.line}` : this.path;
    };
    const user = one('User');
    const rawPort = one('Port');
    const hostNameTemplate = one('HostName');
    const hostName = hostNameTemplate ? this.tokens(hostNameTemplate, { h: name }, where('HostName'), 'hn') : name;
    if (!SAFE_HOST.test(hostName))
      throw new SshConfigError(`${where('HostName')}: HostName ${JSON.stringify(hostName)} for ${name} is not a host name or address`);
    const context = { h: hostName, n: name, r: user ?? userInfo().username, p: rawPort ?? '22' };
    const files = (key: string) =>
      ([] as string[])
        .concat(computed[key] ?? [])
        .flatMap((v) => v.split(/\s+/))
        .filter(Boolean)
        .map((v) => this.tokens(v, context, where(key), 'file'));
    const knownHosts = files('UserKnownHostsFile');
    const jump = one('ProxyJump');
    const alias = one('HostKeyAlias');
    const strict = one('StrictHostKeyChecking');
    return {
      hostName,
      ...(user ? { user } : {}),
      ...(rawPort ? { port: port(rawPort, where('Port')) } : {}),
      identityFiles: files('IdentityFile'),
      identitiesOnly: one('IdentitiesOnly')?.toLowerCase() === 'yes',
      proxyJump: jump ? parseHops(jump, where('ProxyJump')) : [],
      ...(knownHosts.length ? { userKnownHostsFiles: knownHosts } : {}),
      ...(alias ? { hostKeyAlias: alias } : {}),
      ...(strict ? { strictHostKeyChecking: strict.toLowerCase() } : {}),
    };
  }

  /**
   * The file's lines with Include replaced by the files it names. For a host name, an Include
   * inside a Host or Match block counts only where the block applies to that host, and the
   * block's header is repeated after the included lines so the lines below it stay in it — as
   * ssh treats an included file's own Host lines as ending at the end of that file.
   */
  private expand(file: string, depth: number, name: string | undefined, read: { files: number }): SourceLine[] {
    if (depth > MAX_INCLUDE_DEPTH) throw new SshConfigError(`${file}: Include nested deeper than ${MAX_INCLUDE_DEPTH} files`);
    if (++read.files > MAX_INCLUDED_FILES)
      throw new SshConfigError(
        `${file}: more than ${MAX_INCLUDED_FILES} files read through Include for one host (a file included again and again?)`,
      );
    const text = this.files.read(file);
    if (text === undefined) return [];
    const out: SourceLine[] = [];
    let header: SourceLine | undefined;
    text.split(/\r?\n/).forEach((raw, i) => {
      const here: SourceLine = { text: raw, file, line: i + 1 };
      const d = directive(raw);
      if (!d || raw.trimStart().startsWith('#')) return out.push(here);
      const where = `${file}:${i + 1}`;
      if (d.keyword === 'host' || d.keyword === 'match') header = here;
      if (d.keyword === 'port') port(d.value, where);
      if (d.keyword === 'proxyjump') parseHops(d.value, where);
      if (d.keyword !== 'include') return out.push(here);
      if (name !== undefined && header && !this.applies(header.text, name)) return;
      for (const pattern of d.value.split(/\s+/).filter(Boolean)) {
        for (const included of this.glob(pattern, where)) out.push(...this.expand(included, depth + 1, name, read));
      }
      if (header) out.push(header);
    });
    return out;
  }

  /** Whether a Host or Match header applies to the name, asked of the library that computes the rest. */
  private applies(header: string, name: string): boolean {
    return SSHConfig.parse(`${header}\n  KubestrapProbe yes`).compute(name, { matchExec: false }).KubestrapProbe !== undefined;
  }

  /** Include's files: relative names are in ~/.ssh (ssh's rule for a user configuration); wildcards in the last component, sorted. */
  private glob(pattern: string, where: string): string[] {
    const expanded = this.tokens(pattern, {}, where, 'file');
    const path = isAbsolute(expanded) ? expanded : join(this.home, '.ssh', expanded);
    const dir = dirname(path);
    if (/[*?[]/.test(dir))
      throw new SshConfigError(`${where}: Include ${JSON.stringify(pattern)}: kubestrap supports wildcards only in the file name`);
    const leaf = basename(path);
    if (!/[*?[]/.test(leaf)) return existsSync(path) ? [path] : [];
    const regex = new RegExp(
      `^${leaf
        .replace(/[.+^${}()|\\]/g, '\\$&')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')}$`,
    );
    const names = existsSync(dir) ? readdirSync(dir).filter((n) => !n.startsWith('.') || leaf.startsWith('.')) : [];
    return names
      .filter((n) => regex.test(n))
      .sort()
      .map((n) => join(dir, n));
  }

  /** OpenSSH's ~ and % tokens, as far as kubestrap's fields use them; an unknown token is an error, as in ssh. */
  private tokens(value: string, context: Readonly<Record<string, string>>, where: string, kind: 'hn' | 'file'): string {
    const home = this.home;
    const values: Record<string, string> =
      kind === 'hn'
        ? { '%': '%', ...context }
        : { '%': '%', d: home, u: userInfo().username, i: String(userInfo().uid), l: hostname().split('.')[0]!, L: hostname(), ...context };
    const withTokens = value.replace(/%(.)/g, (_m, t: string) => {
      const v = values[t];
      if (v === undefined) throw new SshConfigError(`${where}: token %${t} in ${JSON.stringify(value)} is not supported here`);
      return v;
    });
    return kind === 'file' && (withTokens === '~' || withTokens.startsWith('~/')) ? join(home, withTokens.slice(1)) : withTokens;
  }
}
