/**
 * The test lab: N real Linux hosts on this machine, each with its own network namespace and IP
 * on a lab bridge, its own hostname, an overlay root over one cached Debian root, and a real
 * OpenSSH sshd. Two kinds of host:
 * - 'namespace' (default, fast): new mount/uts/ipc/pid namespaces with sshd as PID 1;
 * - 'systemd': a systemd-nspawn container booting systemd as PID 1 in its own cgroup, so units,
 *   systemctl and journald work as on a real machine (the e2e lab's Kubernetes nodes).
 * Used by the tests, the benches and the demo. Needs root (namespaces, mounts, cgroups).
 * Nothing in the machine's own /etc is changed.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync, rmdirSync, closeSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The lab scripts live in the source tree; compiled code runs from dist/, so look in both. */
const SCRIPTS = existsSync(join(HERE, 'host-init.sh')) ? HERE : join(HERE, '..', '..', '..', 'test', 'lab');
const CACHE = process.env.KUBESTRAP_LAB_CACHE ?? '/var/cache/kubestrap-lab';
const RUN_DIR = '/run/kubestrap-lab';
/** Where each lab host's writable directories live (the e2e nodes' images among them). */
export const WORK_DIR = process.env.KUBESTRAP_LAB_WORK ?? '/var/tmp/kubestrap-lab';
const MAX_LABS = 200;
export const OPS_SUDO_PASSWORD = process.env.KUBESTRAP_LAB_OPS_PASSWORD ?? 'lab-ops-sudo';

export interface LabHost {
  readonly name: string;
  readonly ip: string;
  /** SHA256 fingerprint of the host's own ed25519 host key. */
  readonly hostKey: string;
  readonly netns: string;
}

export interface Lab {
  readonly id: number;
  readonly hosts: readonly LabHost[];
  readonly gateway: string;
  readonly clientKey: string;
  /** Runs a command inside a host as root without SSH (for test setup and assertions). */
  inside(host: LabHost, command: string): string;
  /** Like inside, without blocking (for work on several hosts at once); rejects with stderr. */
  run(host: LabHost, command: string): Promise<string>;
  /** Power-cycles a systemd host: every process of it killed at once, then booted again from the same disk (its network, files and disk paths kept). */
  restart(host: LabHost): Promise<void>;
  stop(): Promise<void>;
}

function sh(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function quiet(command: string, args: string[]): void {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
  } catch {
    // teardown of something that may already be gone
  }
}

/** Runs a script that builds (or finds) something in the lab cache; its last line is the path of what it made. */
export function cachedBuild(script: string, ...args: string[]): string {
  return execFileSync('sh', [script, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, KUBESTRAP_LAB_CACHE: CACHE },
  })
    .trim()
    .split('\n')
    .pop()!;
}

export const ensureBaseRootfs = (): string => cachedBuild(join(SCRIPTS, 'base-rootfs.sh'));

/** Takes a free lab id; the directory doubles as a lock and as the record of what to clean up. */
function allocateId(): number {
  mkdirSync(RUN_DIR, { recursive: true });
  for (let id = 1; id <= MAX_LABS; id++) {
    try {
      mkdirSync(join(RUN_DIR, String(id)));
      writeFileSync(join(RUN_DIR, String(id), 'owner'), String(process.pid));
      return id;
    } catch {
      const owner = Number(readFileSafe(join(RUN_DIR, String(id), 'owner')));
      if (owner && !processAlive(owner)) {
        // left by a crashed run: clean it up and take it
        teardownById(id);
        mkdirSync(join(RUN_DIR, String(id)), { recursive: true });
        writeFileSync(join(RUN_DIR, String(id), 'owner'), String(process.pid));
        return id;
      }
    }
  }
  throw new Error('no free lab id');
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** cgroup v1 hierarchies a systemd host gets its own group in (what runc and the kubelet use). */
const CGROUP_HIERARCHIES = ['systemd', 'cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids'];
const CGROUP_ROOT = '/sys/fs/cgroup';
const NSPAWN_PROPAGATE = '/run/systemd/nspawn/propagate';

const bridgeName = (id: number) => `kslab${id}`;
const netnsName = (id: number, n: number) => `kslab${id}-${n}`;
const vethName = (id: number, n: number) => `ksv${id}x${n}`;

/** Removes everything a lab with this id may have left: processes, namespaces, links, dirs. */
export function teardownById(id: number): void {
  const dir = join(RUN_DIR, String(id));
  for (const line of readFileSafe(join(dir, 'pids')).split('\n').filter(Boolean)) {
    const pid = Number(line);
    if (pid && processAlive(pid)) quiet('kill', ['-KILL', String(pid)]);
  }
  const prefix = `kslab${id}-`;
  removeHostCgroups(prefix);
  // systemd-nspawn keeps a directory per container for `machinectl bind`; nothing else uses it
  for (const dir of readdirSafe(NSPAWN_PROPAGATE).filter((n) => n.startsWith(prefix)))
    rmSync(join(NSPAWN_PROPAGATE, dir), { recursive: true, force: true });
  for (const dir of [NSPAWN_PROPAGATE, dirname(NSPAWN_PROPAGATE)]) quiet('rmdir', [dir]);
  for (const ns of readdirSafe('/run/netns').filter((n) => n.startsWith(prefix))) {
    let pids: string[] = [];
    try {
      pids = sh('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean);
    } catch {
      // namespace already gone
    }
    for (const pid of pids) quiet('kill', ['-KILL', pid]);
    quiet('ip', ['netns', 'del', ns]);
  }
  quiet('ip', ['link', 'del', bridgeName(id)]);
  // The kernel destroys a deleted namespace's links asynchronously (seconds on a busy machine),
  // and not while a dying process still holds the namespace: deleting the host end removes both
  // ends at once (CI's next lab with this id found ksv1x1 still there); then wait, at most 30 s.
  const leftLinks = () =>
    sh('ip', ['-br', 'link'])
      .split('\n')
      .map((l) => l.split(/[\s@]/)[0]!)
      .filter((l) => l.startsWith(`ksv${id}x`));
  for (const link of leftLinks()) quiet('ip', ['link', 'del', link]);
  for (let i = 0; i < 600 && leftLinks().length; i++) execFileSync('sleep', ['0.05']);
  rmSync(join(WORK_DIR, String(id)), { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
}

/** Kills every process in a systemd host's cgroups (its containers too), then removes the groups. */
function removeHostCgroups(prefix: string): void {
  const groups = (hierarchy: string) =>
    readdirSafe(join(CGROUP_ROOT, hierarchy))
      .filter((g) => g.startsWith(prefix))
      .map((g) => join(CGROUP_ROOT, hierarchy, g));
  killCgroupProcesses(groups('pids'));
  for (const hierarchy of CGROUP_HIERARCHIES) {
    // children first: a cgroup directory can only be removed once it has no children
    for (const group of groups(hierarchy)) quiet('find', [group, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', '+']);
  }
}

/** Kills every process in the groups (and their children groups) until none is left. */
function killCgroupProcesses(groups: readonly string[]): void {
  for (let round = 0; round < 100; round++) {
    const pids = groups.flatMap((g) =>
      execFileSync('find', [g, '-name', 'cgroup.procs', '-exec', 'cat', '{}', '+'], { encoding: 'utf8' }).split('\n').filter(Boolean),
    );
    if (pids.length === 0) break;
    for (const pid of pids) quiet('kill', ['-KILL', pid]);
    execFileSync('sleep', ['0.05']);
  }
}

function createHostCgroups(group: string): void {
  for (const hierarchy of CGROUP_HIERARCHIES) mkdirSync(join(CGROUP_ROOT, hierarchy, group), { recursive: true });
  // a new cpuset group starts with no CPUs or memory nodes; give it the machine's
  for (const file of ['cpuset.cpus', 'cpuset.mems'])
    writeFileSync(join(CGROUP_ROOT, 'cpuset', group, file), readFileSync(join(CGROUP_ROOT, 'cpuset', file)));
}

function readdirSafe(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

async function waitForPort(ip: string, port: number, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: ip, port, timeout: 1000 });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => {
        resolve(false);
      });
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`lab host ${ip}:${port} did not start sshd in time`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function sshFingerprint(pubKeyLine: string): string {
  const blob = Buffer.from(pubKeyLine.trim().split(/\s+/)[1] ?? '', 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export interface LabOptions {
  readonly hosts: number;
  /** Host name prefix; hosts are <prefix>-1 … <prefix>-N. */
  readonly prefix?: string;
  /** Explicit names (overrides prefix and count). */
  readonly names?: readonly string[];
  /** 'namespace' (default): sshd as PID 1. 'systemd': systemd-nspawn booting systemd. */
  readonly kind?: 'namespace' | 'systemd';
  /** The root filesystem under each host's overlay (default: the base root). */
  readonly rootfs?: string;
  /**
   * Paths inside each host backed by a per-host directory on this machine's disk instead of the
   * overlay (e.g. /var/lib/containerd, whose overlay snapshots cannot live on an overlay).
   */
  readonly diskPaths?: readonly string[];
  /** Directories of this machine shown read-only inside every systemd host: { path inside: source }. */
  readonly readOnlyBinds?: Readonly<Record<string, string>>;
  /** A default route through the lab bridge (still air-gapped: this machine does not forward). */
  readonly defaultRoute?: boolean;
}

export async function startLab(options: LabOptions): Promise<Lab> {
  const rootfs = options.rootfs ?? ensureBaseRootfs();
  const kind = options.kind ?? 'namespace';
  const id = allocateId();
  const names = options.names ?? Array.from({ length: options.hosts }, (_, i) => `${options.prefix ?? 'node'}-${i + 1}`);
  const gateway = `10.77.${id}.1`;
  const bridge = bridgeName(id);
  const children: ChildProcess[] = [];
  const hosts: LabHost[] = [];
  const pidsFile = join(RUN_DIR, String(id), 'pids');
  const startMs = kind === 'systemd' ? 90_000 : 30_000;
  /** How each host is started, and the process that runs it now (nspawn or unshare). */
  const boots = new Map<string, { command: string[]; dir: string }>();
  const running = new Map<string, ChildProcess>();
  /** Starts the host's process; the promise rejects if it exits (during start: an error to show). */
  const boot = (host: LabHost): Promise<never> => {
    const { command, dir } = boots.get(host.name)!;
    const logFd = openSync(join(dir, 'init.log'), 'a');
    const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', logFd, logFd], detached: true });
    closeSync(logFd);
    child.unref();
    children.push(child);
    running.set(host.name, child);
    writeFileSync(pidsFile, `${child.pid}\n`, { flag: 'a' });
    return new Promise<never>((_, reject) =>
      child.once('exit', () => {
        reject(new Error(`lab host ${host.name} stopped during start:\n${readFileSafe(join(dir, 'init.log'))}`));
      }),
    );
  };
  try {
    sh('ip', ['link', 'add', bridge, 'type', 'bridge']);
    sh('ip', ['addr', 'add', `${gateway}/24`, 'dev', bridge]);
    sh('ip', ['link', 'set', bridge, 'up']);
    const started = names.map((name, i) => {
      const n = i + 1;
      const ip = `10.77.${id}.${10 + i}`;
      const ns = netnsName(id, n);
      const veth = vethName(id, n);
      sh('ip', ['netns', 'add', ns]);
      sh('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      sh('ip', ['link', 'set', veth, 'master', bridge, 'up']);
      sh('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
      sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      // By default no default route: lab hosts are air-gapped, so anything that tries the internet
      // fails at once (network unreachable) instead of waiting for a timeout.
      if (options.defaultRoute) sh('ip', ['-n', ns, 'route', 'add', 'default', 'via', gateway]);
      const dir = join(WORK_DIR, String(id), name);
      for (const sub of ['upper/etc/ssh', 'work', 'merged']) mkdirSync(join(dir, sub), { recursive: true });
      writeFileSync(join(dir, 'upper/etc/hostname'), `${name}\n`);
      writeFileSync(join(dir, 'upper/etc/hosts'), `127.0.0.1\tlocalhost\n${ip}\t${name}\n`);
      writeFileSync(join(dir, 'upper/etc/machine-id'), `${createHash('md5').update(`${id}/${name}/${Date.now()}`).digest('hex')}\n`);
      sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', join(dir, 'upper/etc/ssh/ssh_host_ed25519_key')]);
      const hostKey = sshFingerprint(readFileSync(join(dir, 'upper/etc/ssh/ssh_host_ed25519_key.pub'), 'utf8'));
      const disk = (options.diskPaths ?? []).map((path) => {
        const source = join(dir, 'disk', path.replace(/^\/+/, '').replaceAll('/', '_'));
        mkdirSync(source, { recursive: true });
        return `--bind=${source}:${path}`;
      });
      const shared = Object.entries(options.readOnlyBinds ?? {}).map(([path, source]) => `--bind-ro=${source}:${path}`);
      let command: string[];
      if (kind === 'systemd') {
        createHostCgroups(ns);
        command = [
          'unshare',
          '--mount',
          '--propagation',
          'private',
          'sh',
          join(SCRIPTS, 'nspawn-host.sh'),
          rootfs,
          dir,
          name,
          ns,
          ...disk,
          ...shared,
        ];
      } else {
        if (disk.length || shared.length) throw new Error('diskPaths and readOnlyBinds need kind: systemd');
        command = [
          'nsenter',
          `--net=/run/netns/${ns}`,
          'unshare',
          '--mount',
          '--uts',
          '--ipc',
          '--pid',
          '--fork',
          '--kill-child',
          '--propagation',
          'private',
          'sh',
          join(SCRIPTS, 'host-init.sh'),
          rootfs,
          dir,
          name,
        ];
      }
      const host = { name, ip, hostKey, netns: ns };
      boots.set(name, { command, dir });
      return { host, exited: boot(host) };
    });
    await Promise.all(started.map((s) => Promise.race([waitForPort(s.host.ip, 22, startMs), s.exited])));
    for (const s of started) s.exited.catch(() => undefined);
    hosts.push(...started.map((s) => s.host));
  } catch (err) {
    teardownById(id);
    throw err;
  }

  // the host's PID 1 is the only child of the process we started (unshare --fork, or nspawn)
  const enter = (host: LabHost, command: string) => [
    '-t',
    sh('pgrep', ['-P', String(running.get(host.name)!.pid)])
      .trim()
      .split('\n')[0] ?? '',
    '-m',
    '-u',
    '-i',
    '-n',
    '-p',
    '-r',
    '-w',
    'sh',
    '-c',
    command,
  ];
  const inside = (host: LabHost, command: string): string => sh('nsenter', enter(host, command));
  const run = (host: LabHost, command: string): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile('nsenter', enter(host, command), { encoding: 'utf8', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${host.name}: ${command}: ${stderr.trim() || err.message}`));
        else resolve(stdout);
      });
    });

  return {
    id,
    hosts,
    gateway,
    clientKey: join(CACHE, 'id_ed25519'),
    inside,
    run,
    async restart(host) {
      if (kind !== 'systemd') throw new Error('restart needs kind: systemd');
      const child = running.get(host.name)!;
      const gone = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', r));
      // power off: nspawn and everything the host runs (its containers too), at once
      quiet('kill', ['-KILL', String(child.pid)]);
      killCgroupProcesses([join(CGROUP_ROOT, 'pids', host.netns)]);
      await gone;
      const exited = boot(host);
      exited.catch(() => undefined);
      await Promise.race([waitForPort(host.ip, 22, startMs), exited]);
    },
    async stop() {
      for (const child of children) quiet('kill', ['-KILL', String(child.pid)]);
      // the children are unref'd: keep this process alive until their exits are seen
      const keepAlive = setInterval(() => undefined, 1000);
      await Promise.all(
        children.map((child) =>
          child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', r)),
        ),
      );
      clearInterval(keepAlive);
      teardownById(id);
    },
  };
}

/** Removes every lab whose owning process is gone (crashed test runs). */
export function sweepStaleLabs(): void {
  for (const entry of readdirSafe(RUN_DIR)) {
    const owner = Number(readFileSafe(join(RUN_DIR, entry, 'owner')));
    if (!owner || !processAlive(owner)) teardownById(Number(entry));
  }
  try {
    rmdirSync(join(WORK_DIR));
  } catch {
    // still in use by a live lab, or absent
  }
}
