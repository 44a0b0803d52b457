/** Shared helpers of the lab tests: run the real CLI, open Hosts on lab machines. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunLog } from '../../src/log/run-log.js';
import { Host, type Privilege } from '../../src/transport/host.js';
import { HostKeyPolicy } from '../../src/transport/host-keys.js';
import { openSsh, type SshEndpoint } from '../../src/transport/ssh.js';
import { labInventory, type LabInventoryOptions } from './inventory.js';
import { OPS_SUDO_PASSWORD, type Lab, type LabHost } from './lab.js';

/**
 * Lab hosts have no internet: tests about other phases skip the two that download packages
 * (those are tested in packages.test.ts against the lab's package mirror). Namespace hosts have
 * no service manager either: the control-plane and join phases (groups `init`, `join`) run on the e2e lab.
 */
export const WITHOUT_PACKAGES = ['--skip', 'container-runtime,kube-packages,init,join'] as const;
/** Host preparation only (namespace hosts cannot run a kubelet; test/e2e does). */
export const PREPARE_ONLY = ['--skip', 'init,join'] as const;

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunningCli {
  readonly child: ChildProcess;
  /** Settles when it exits (killed: code -1). */
  readonly result: Promise<CliResult>;
  /** What it has printed on stdout so far. */
  stdout(): string;
}

/** Starts the built CLI (bin/kubestrap.js → dist/) as a user would, without a TTY. */
export function startCli(args: readonly string[], env: Record<string, string> = {}): RunningCli {
  const child = spawn(process.execPath, ['bin/kubestrap.js', ...args], {
    env: { ...process.env, KUBESTRAP_LAB_SUDO_PASSWORD: OPS_SUDO_PASSWORD, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const result = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
  return { child, result, stdout: () => stdout };
}

/** Runs the built CLI to its end. */
export function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return startCli(args, env).result;
}

/** The directories tempDir made in this test file's process, which test/lab/temp-dirs.ts removes after the file. */
const madeDirs: string[] = [];

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `kubestrap-${prefix}-`));
  madeDirs.push(dir);
  return dir;
}

/**
 * Removes what tempDir made (KUBESTRAP_KEEP_TEST_DIRS=1 keeps it, for a look at the logs): left
 * behind, an air-gap bundle is 2.7 GB a run, and a fuller disk makes the lab kubelets' image
 * garbage collection delete images an air-gapped lab cannot pull again (seen in CI).
 */
export function removeTempDirs(): void {
  if (process.env.KUBESTRAP_KEEP_TEST_DIRS === '1') return;
  for (const dir of madeDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Writes a lab inventory to a temp file and returns its path. */
export function writeLabInventory(lab: Lab, options: LabInventoryOptions = {}, dir = tempDir('inv')): string {
  const file = join(dir, 'inventory.yaml');
  writeFileSync(file, labInventory(lab, options));
  return file;
}

/** An SSH endpoint for a lab host with its host key pinned. */
export function endpoint(lab: Lab, host: LabHost, user = 'root'): SshEndpoint {
  return {
    name: host.name,
    address: host.ip,
    port: 22,
    user,
    credentials: { privateKey: readFileSync(lab.clientKey) },
    pinnedHostKey: host.hostKey,
  };
}

export function privilegeFor(user: string): Privilege {
  if (user === 'root') return { kind: 'root' };
  if (user === 'ops') return { kind: 'sudo-password', password: OPS_SUDO_PASSWORD };
  return { kind: 'sudo-passwordless' };
}

/** Opens a Host on a lab machine as root, ops (sudo with password) or deploy (passwordless sudo). */
export async function openLabHost(lab: Lab, host: LabHost, user = 'root', log: RunLog = RunLog.disabled()): Promise<Host> {
  const policy = new HostKeyPolicy({ knownHostsFile: join(tempDir('kh'), 'known_hosts'), acceptNew: false });
  const channel = await openSsh(endpoint(lab, host, user), { hostKeys: policy, connectTimeoutMs: 5000 });
  return new Host(host.name, channel, privilegeFor(user), log);
}

/** Keeps this process (a lab's command line) running until SIGTERM or SIGINT, then `stop`s and exits. */
export function keepUntilSignalled(stop: () => Promise<void>): void {
  const exit = () => void stop().then(() => process.exit(0));
  process.on('SIGTERM', exit);
  process.on('SIGINT', exit);
  setInterval(() => undefined, 1 << 30);
}
