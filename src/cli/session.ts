/**
 * What every host-touching command does before the first connection: load and validate the
 * inventory, pick hosts, resolve credentials, set up host-key checking and the run log.
 * Any problem here stops the command before a single host is contacted.
 */
import { Command, Option } from 'commander';
import type { LoadedInventory } from '../inventory/load.js';
import { loadInventory } from '../inventory/load.js';
import { resolveHosts, type ResolvedHost } from '../inventory/resolve.js';
import { RunLog } from '../log/run-log.js';
import { resolveTargets, type ConnectTarget } from '../transport/credentials.js';
import { DEFAULT_KNOWN_HOSTS, HostKeyPolicy } from '../transport/host-keys.js';
import { SshConfigError, SshConfigFile } from '../transport/ssh-config.js';
import { expandHome } from '../util/paths.js';
import type { ConnectOptions } from '../kit/connect.js';
import type { RendererChoice } from '../workflow/runner.js';
import { askPassphrase } from './prompt.js';
import { UsageError } from './errors.js';

export interface HostOptions {
  inventory: string;
  hosts?: string;
  concurrency: string;
  acceptNewHostKeys?: boolean;
  knownHosts?: string;
  sshConfig?: string;
  logFile?: string;
  output: RendererChoice;
}

/** --ssh-config, shared by every command that connects: like `ssh -F`; `none` reads no file. */
export const SSH_CONFIG_FLAG = [
  '--ssh-config <file>',
  'OpenSSH client configuration to read for aliases, HostName, User, Port, IdentityFile, ProxyJump, UserKnownHostsFile (default: ~/.ssh/config; none: no file); the inventory wins where both say something',
] as const;

/** The operator's OpenSSH configuration: the file named, ~/.ssh/config when it exists, or none. */
export function sshConfigFrom(flag: string | undefined): SshConfigFile | undefined {
  if (flag === 'none') return undefined;
  try {
    return flag ? SshConfigFile.load(expandHome(flag), { required: true }) : SshConfigFile.load();
  } catch (err) {
    if (err instanceof SshConfigError) throw new UsageError(err.message);
    throw err;
  }
}

export function addInventoryOption(cmd: Command): Command {
  return cmd.requiredOption('-i, --inventory <file>', 'inventory file (YAML, kind: Cluster)');
}

/** `inventoryOptional`: -i is one of several sources; `withoutProgress`: the command prints a report, not progress (its own --output). */
export function addHostOptions(cmd: Command, options: { inventoryOptional?: boolean; withoutProgress?: boolean } = {}): Command {
  const withHosts = (
    options.inventoryOptional ? cmd.option('-i, --inventory <file>', 'inventory file (YAML, kind: Cluster)') : addInventoryOption(cmd)
  )
    .option('--hosts <names>', 'only these hosts (comma-separated names)')
    .option('--concurrency <n>', 'hosts worked on at once', '20')
    .option(
      '--accept-new-host-keys',
      'record unknown host keys in the known_hosts file instead of refusing them (changed keys are always refused)',
    )
    .option(
      '--known-hosts <file>',
      "known_hosts file (default: hostDefaults.knownHostsFile, else ~/.ssh/config's UserKnownHostsFile, else ~/.ssh/known_hosts)",
    )
    .option(...SSH_CONFIG_FLAG)
    .option('--log-file <file>', 'where to write the run log (default: ~/.kubestrap/logs/<time>-<command>.log)');
  if (options.withoutProgress) return withHosts;
  return withHosts.addOption(
    new Option(
      '--output <style>',
      'progress display: auto (tree on a terminal, lines otherwise), plain, silent, json (one JSON object per event on stdout; the report goes to stderr)',
    )
      .choices(['auto', 'plain', 'silent', 'json'])
      .default('auto'),
  );
}

export interface Session {
  readonly loaded: LoadedInventory;
  readonly hosts: readonly ResolvedHost[];
  readonly targets: readonly ConnectTarget[];
  readonly connect: ConnectOptions;
  readonly log: RunLog;
  readonly concurrency: number;
}

function parseConcurrency(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 1000)
    throw new UsageError(`--concurrency must be a whole number from 1 to 1000, got ${JSON.stringify(text)}`);
  return n;
}

function pickHosts(all: ResolvedHost[], filter: string | undefined): ResolvedHost[] {
  if (!filter) return all;
  const names = filter
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !all.some((h) => h.name === n));
  if (unknown.length) throw new UsageError(`--hosts: no host named ${unknown.join(', ')} in the inventory`);
  return all.filter((h) => names.includes(h.name));
}

export async function openSession(command: string, options: HostOptions): Promise<Session> {
  const concurrency = parseConcurrency(options.concurrency);
  return sessionFor(command, await loadInventory(options.inventory), concurrency, options);
}

/** A session over an inventory already read (one adopt builds from its flags). */
export async function sessionFor(
  command: string,
  loaded: LoadedInventory,
  concurrency: number,
  options: Omit<HostOptions, 'inventory' | 'concurrency' | 'output'>,
): Promise<Session> {
  const hosts = pickHosts(resolveHosts(loaded.inventory), options.hosts);
  const sshConfig = sshConfigFrom(options.sshConfig);
  const log = RunLog.forCommand(command, options.logFile);
  const defaults = loaded.inventory.hostDefaults;
  const knownHostsFile = options.knownHosts ?? defaults.knownHostsFile;
  const targets = await resolveTargets(hosts, {
    env: process.env,
    prompt: process.stdin.isTTY ? askPassphrase : undefined,
    sshConfig,
    knownHostsChosen: knownHostsFile !== undefined,
    notice: (host, message) => {
      log.write(host, `NOTE ${message}`);
      console.error(`note: ${host}: ${message}`);
    },
  });
  for (const t of targets) {
    log.redactor.add(t.endpoint.credentials.password);
    log.redactor.add(t.endpoint.credentials.passphrase);
  }
  const hostKeys = new HostKeyPolicy({
    knownHostsFile: expandHome(knownHostsFile ?? DEFAULT_KNOWN_HOSTS),
    acceptNew: options.acceptNewHostKeys ?? false,
  });
  log.write('kubestrap', `${command} with inventory ${loaded.file}: ${hosts.length} host(s)`);
  return { loaded, hosts, targets, connect: { hostKeys, connectTimeoutMs: defaults.connectTimeoutSeconds * 1000, log }, log, concurrency };
}
