/**
 * Turns the inventory's references to secrets (env var names, key files, prompts) into the
 * credentials a connection uses. Runs for every host before any host is contacted, so a missing
 * variable is reported up front, by name, and never by value.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { ResolvedHost } from '../inventory/resolve.js';
import type { AuthSpec, BastionSpec } from '../inventory/schema.js';
import { expandHome } from '../util/paths.js';
import type { Privilege } from './host.js';
import type { Credentials, SshEndpoint } from './ssh.js';
import type { JumpHop, SshConfigFile, SshHostConfig } from './ssh-config.js';
import { messageOf } from '../util/errors.js';

export type PassphrasePrompt = (keyPath: string) => Promise<string>;

export interface CredentialSources {
  readonly env: NodeJS.ProcessEnv;
  /** Asks for a key passphrase; absent when there is no terminal. */
  readonly prompt?: PassphrasePrompt | undefined;
  /** The operator's OpenSSH configuration: what it says applies where the inventory says nothing. */
  readonly sshConfig?: SshConfigFile | undefined;
  /** known_hosts was chosen by the inventory or --known-hosts, so ~/.ssh/config's UserKnownHostsFile does not apply. */
  readonly knownHostsChosen?: boolean;
  /** Told once per host: a setting of ~/.ssh/config kubestrap does not follow, and why. */
  readonly notice?: (host: string, message: string) => void;
}

export class CredentialError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`cannot resolve credentials:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'CredentialError';
  }
}

const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];
/** The login and port when neither the inventory nor ~/.ssh/config names one. */
const DEFAULT_USER = 'root';
const DEFAULT_PORT = 22;
/** ProxyJump hops that themselves jump: a loop in the file must end (OpenSSH's own limit is similar). */
const MAX_JUMPS = 8;

export interface ConnectTarget {
  readonly host: ResolvedHost;
  readonly endpoint: SshEndpoint;
  /** Jump hosts in order, the first reached directly (inventory bastion, else ~/.ssh/config's ProxyJump). */
  readonly jumps: readonly SshEndpoint[];
  readonly privilege: Privilege;
}

class Resolver {
  readonly problems: string[] = [];
  private readonly keyCache = new Map<string, Promise<Buffer | undefined>>();
  private readonly passphrases = new Map<string, Promise<string | undefined>>();

  constructor(private readonly sources: CredentialSources) {}

  private envSecret(name: string, where: string): string | undefined {
    const value = this.sources.env[name];
    if (value === undefined || value === '') {
      this.problems.push(`${where}: environment variable ${name} is not set`);
      return undefined;
    }
    return value;
  }

  /**
   * The sudo password goes to the host as one line of stdin ahead of the script: a line break
   * inside it would shift every file the script writes. One trailing newline (a secret mounted
   * from a file) is dropped; any other line break or NUL is refused.
   */
  private sudoPassword(name: string, where: string): string | undefined {
    const value = this.envSecret(name, where)?.replace(/\r?\n$/, '');
    if (value !== undefined && /[\r\n\0]/.test(value)) {
      this.problems.push(`${where}: the value of ${name} holds a line break or a NUL byte; sudo takes a password of one line`);
      return undefined;
    }
    return value;
  }

  private key(path: string, where: string): Promise<Buffer | undefined> {
    const full = expandHome(path);
    let cached = this.keyCache.get(full);
    if (!cached) {
      cached = readFile(full).catch((err: unknown) => {
        this.problems.push(`${where}: cannot read key file ${path}: ${messageOf(err)}`);
        return undefined;
      });
      this.keyCache.set(full, cached);
    }
    return cached;
  }

  private passphrase(auth: AuthSpec, where: string): Promise<string | undefined> {
    if (auth.passphraseEnv) return Promise.resolve(this.envSecret(auth.passphraseEnv, `${where}.passphraseEnv`));
    if (!auth.passphrasePrompt || !auth.keyPath) return Promise.resolve(undefined);
    const key = expandHome(auth.keyPath);
    let cached = this.passphrases.get(key);
    if (!cached) {
      const prompt = this.sources.prompt;
      if (!prompt) {
        this.problems.push(
          `${where}.passphrasePrompt: no terminal to ask for the passphrase of ${auth.keyPath}; use passphraseEnv instead`,
        );
        cached = Promise.resolve(undefined);
      } else cached = prompt(auth.keyPath);
      this.passphrases.set(key, cached);
    }
    return cached;
  }

  async credentials(auth: AuthSpec | undefined, where: string, ssh?: SshHostConfig): Promise<Credentials> {
    if (!auth && ssh?.identityFiles.length) {
      // ssh tries each IdentityFile that exists; kubestrap takes the first (with the agent, as ssh does unless IdentitiesOnly)
      const file = ssh.identityFiles.find((f) => existsSync(f));
      const agent = ssh.identitiesOnly ? undefined : this.sources.env.SSH_AUTH_SOCK;
      const privateKey = file ? await this.key(file, `${where} (IdentityFile of ~/.ssh/config)`) : undefined;
      if (privateKey || agent) return { ...(privateKey ? { privateKey } : {}), ...(agent ? { agent } : {}) };
    }
    if (auth?.keyPath) {
      const privateKey = await this.key(auth.keyPath, `${where}.keyPath`);
      const passphrase = await this.passphrase(auth, where);
      return { ...(privateKey ? { privateKey } : {}), ...(passphrase !== undefined ? { passphrase } : {}) };
    }
    if (auth?.passwordEnv) {
      const password = this.envSecret(auth.passwordEnv, `${where}.passwordEnv`);
      return password === undefined ? {} : { password };
    }
    const agent = this.sources.env.SSH_AUTH_SOCK;
    if (auth?.agent) {
      if (!agent) this.problems.push(`${where}.agent: SSH_AUTH_SOCK is not set, so there is no ssh-agent to use`);
      return agent ? { agent } : {};
    }
    if (agent) return { agent };
    const found = DEFAULT_KEYS.map((k) => join(homedir(), '.ssh', k)).find((p) => existsSync(p));
    if (!found) {
      this.problems.push(
        `${where}: no login method: set auth.keyPath, auth.agent or auth.passwordEnv (no ssh-agent and no ~/.ssh/id_* key found)`,
      );
      return {};
    }
    const privateKey = await this.key(found, where);
    return privateKey ? { privateKey } : {};
  }

  privilege(host: ResolvedHost, user: string): Privilege {
    const where = `hosts[${host.index}] ${host.name}: sudo`;
    const sudo = host.sudo ?? { mode: user === 'root' ? 'none' : 'passwordless' };
    switch (sudo.mode) {
      case 'none':
        return user === 'root' ? { kind: 'root' } : { kind: 'login-user' };
      case 'passwordless':
        return user === 'root' ? { kind: 'root' } : { kind: 'sudo-passwordless' };
      case 'password': {
        // validate refuses this combination; a root login never needs sudo's password
        if (user === 'root') return { kind: 'root' };
        const password = sudo.passwordEnv ? this.sudoPassword(sudo.passwordEnv, `${where}.passwordEnv`) : undefined;
        return { kind: 'sudo-password', password: password ?? '' };
      }
    }
  }

  async bastion(spec: BastionSpec, where: string): Promise<SshEndpoint> {
    return {
      name: `${spec.address} (jump host)`,
      address: spec.address,
      port: spec.port,
      user: spec.user,
      credentials: await this.credentials(spec.auth, `${where}.bastion.auth`),
      pinnedHostKey: spec.hostKey,
    };
  }

  /**
   * ~/.ssh/config's ProxyJump chain for a host, each hop read from the file as `ssh HOP` would
   * (its HostName, User, Port, IdentityFile, and its own ProxyJump first).
   */
  async configJumps(hops: readonly JumpHop[], where: string, depth = 0): Promise<SshEndpoint[]> {
    const config = this.sources.sshConfig;
    if (!config || !hops.length) return [];
    if (depth >= MAX_JUMPS) {
      this.problems.push(`${where}: ProxyJump in ${config.path} goes through more than ${MAX_JUMPS} hosts (a loop?)`);
      return [];
    }
    const chain: SshEndpoint[] = [];
    for (const [i, hop] of hops.entries()) {
      const ssh = config.lookup(hop.host);
      // a hop's own ProxyJump is how ssh reaches the first hop; later hops are reached through the one before
      if (i === 0) chain.push(...(await this.configJumps(ssh.proxyJump, where, depth + 1)));
      chain.push({
        name: `${hop.host} (jump host, ~/.ssh/config)`,
        address: ssh.hostName,
        port: hop.port ?? ssh.port ?? DEFAULT_PORT,
        // ssh's default login for a jump host is the local user
        user: hop.user ?? ssh.user ?? userInfo().username,
        credentials: await this.credentials(undefined, `${where} ProxyJump ${hop.host}`, ssh),
        ...this.knownHosts(ssh),
      });
    }
    return chain;
  }

  /** Where the file says a host's key is known under and in (HostKeyAlias, UserKnownHostsFile). */
  knownHosts(ssh: SshHostConfig | undefined): Pick<SshEndpoint, 'hostKeyAlias' | 'knownHostsFiles'> {
    return {
      ...(ssh?.hostKeyAlias ? { hostKeyAlias: ssh.hostKeyAlias } : {}),
      ...(ssh?.userKnownHostsFiles && !this.sources.knownHostsChosen ? { knownHostsFiles: ssh.userKnownHostsFiles } : {}),
    };
  }
}

export async function resolveTargets(hosts: readonly ResolvedHost[], sources: CredentialSources): Promise<ConnectTarget[]> {
  const resolver = new Resolver(sources);
  const targets: ConnectTarget[] = [];
  for (const host of hosts) {
    const where = `hosts[${host.index}] ${host.name}`;
    const ssh = sources.sshConfig?.lookup(host.address);
    if (ssh?.strictHostKeyChecking && /^(no|off|accept-new)$/.test(ssh.strictHostKeyChecking)) {
      sources.notice?.(
        host.name,
        `${sources.sshConfig!.path} says StrictHostKeyChecking ${ssh.strictHostKeyChecking} for ${host.address}; kubestrap checks host keys anyway (pin hostKey or use --accept-new-host-keys)`,
      );
    }
    const user = host.user ?? ssh?.user ?? DEFAULT_USER;
    targets.push({
      host,
      endpoint: {
        name: host.name,
        address: ssh?.hostName ?? host.address,
        port: host.port ?? ssh?.port ?? DEFAULT_PORT,
        user,
        credentials: await resolver.credentials(host.auth, `${where}: auth`, ssh),
        pinnedHostKey: host.hostKey,
        ...resolver.knownHosts(ssh),
      },
      jumps: host.bastion ? [await resolver.bastion(host.bastion, where)] : await resolver.configJumps(ssh?.proxyJump ?? [], where),
      privilege: resolver.privilege(host, user),
    });
  }
  if (resolver.problems.length) throw new CredentialError([...new Set(resolver.problems)]);
  return targets;
}
