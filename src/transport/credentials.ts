/**
 * Turns the inventory's references to secrets (env var names, key files, prompts) into the
 * credentials a connection uses. Runs for every host before any host is contacted, so a missing
 * variable is reported up front, by name, and never by value.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ResolvedHost } from '../inventory/resolve.js';
import type { AuthSpec, BastionSpec } from '../inventory/schema.js';
import { expandHome } from '../util/paths.js';
import type { Privilege } from './host.js';
import type { Credentials, SshEndpoint } from './ssh.js';

export type PassphrasePrompt = (keyPath: string) => Promise<string>;

export interface CredentialSources {
  readonly env: NodeJS.ProcessEnv;
  /** Asks for a key passphrase; absent when there is no terminal. */
  readonly prompt?: PassphrasePrompt | undefined;
}

export class CredentialError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`cannot resolve credentials:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'CredentialError';
  }
}

const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

export interface ConnectTarget {
  readonly host: ResolvedHost;
  readonly endpoint: SshEndpoint;
  readonly bastion: SshEndpoint | undefined;
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

  private key(path: string, where: string): Promise<Buffer | undefined> {
    const full = expandHome(path);
    let cached = this.keyCache.get(full);
    if (!cached) {
      cached = readFile(full).catch((err: Error) => {
        this.problems.push(`${where}: cannot read key file ${path}: ${err.message}`);
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
        this.problems.push(`${where}.passphrasePrompt: no terminal to ask for the passphrase of ${auth.keyPath}; use passphraseEnv instead`);
        cached = Promise.resolve(undefined);
      } else cached = prompt(auth.keyPath);
      this.passphrases.set(key, cached);
    }
    return cached;
  }

  async credentials(auth: AuthSpec | undefined, where: string): Promise<Credentials> {
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
      this.problems.push(`${where}: no login method: set auth.keyPath, auth.agent or auth.passwordEnv (no ssh-agent and no ~/.ssh/id_* key found)`);
      return {};
    }
    const privateKey = await this.key(found, where);
    return privateKey ? { privateKey } : {};
  }

  privilege(host: ResolvedHost): Privilege {
    const where = `hosts[${host.index}] ${host.name}: sudo`;
    switch (host.sudo.mode) {
      case 'none':
        return host.user === 'root' ? { kind: 'root' } : { kind: 'login-user' };
      case 'passwordless':
        return host.user === 'root' ? { kind: 'root' } : { kind: 'sudo-passwordless' };
      case 'password': {
        // validate refuses this combination; a root login never needs sudo's password
        if (host.user === 'root') return { kind: 'root' };
        const password = host.sudo.passwordEnv ? this.envSecret(host.sudo.passwordEnv, `${where}.passwordEnv`) : undefined;
        return { kind: 'sudo-password', password: password ?? '' };
      }
    }
  }

  async bastion(spec: BastionSpec | undefined, where: string): Promise<SshEndpoint | undefined> {
    if (!spec) return undefined;
    return {
      name: `${spec.address} (jump host)`,
      address: spec.address,
      port: spec.port,
      user: spec.user,
      credentials: await this.credentials(spec.auth, `${where}.bastion.auth`),
      pinnedHostKey: spec.hostKey,
    };
  }
}

export async function resolveTargets(hosts: readonly ResolvedHost[], sources: CredentialSources): Promise<ConnectTarget[]> {
  const resolver = new Resolver(sources);
  const targets: ConnectTarget[] = [];
  for (const host of hosts) {
    const where = `hosts[${host.index}] ${host.name}: auth`;
    targets.push({
      host,
      endpoint: {
        name: host.name,
        address: host.address,
        port: host.port,
        user: host.user,
        credentials: await resolver.credentials(host.auth, where),
        pinnedHostKey: host.hostKey,
      },
      bastion: await resolver.bastion(host.bastion, `hosts[${host.index}] ${host.name}`),
      privilege: resolver.privilege(host),
    });
  }
  if (resolver.problems.length) throw new CredentialError([...new Set(resolver.problems)]);
  return targets;
}
