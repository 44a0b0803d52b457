/**
 * The one way phases reach a machine. A transport (SSH or local) only has to run a POSIX sh
 * script with optional stdin and forward a port; privilege escalation, atomic file writes and
 * batched reads are built here, once, on top of that.
 */
import { Readable } from 'node:stream';
import { printable } from '../log/redact.js';
import type { RunLog } from '../log/run-log.js';
import { Batcher, type RawResult } from './batcher.js';
import { quote, quoteArgv } from './quote.js';

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

/** What a transport provides. */
export interface Channel {
  /** Runs `sh -c script` as the login user; stdin is a buffer or, for uploads too large to hold, a stream. */
  run(script: string, opts: { stdin?: Buffer | Readable; timeoutMs?: number }): Promise<{ stdout: Buffer; stderr: Buffer; code: number }>;
  /** Listens on the workstation and forwards to remoteAddress:remotePort as the host reaches it (default: its loopback). */
  forward(remotePort: number, remoteAddress?: string): Promise<PortForward>;
  /** Opens a new connection after the host went away on purpose (reboot), waiting up to `timeoutMs`. */
  reconnect(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface PortForward {
  /** Where the workstation connects: its loopback for a tunnel, the address itself on the local transport. */
  readonly address: string;
  readonly localPort: number;
  /** Why the far end could not be reached through the tunnel, the last time it could not (a refused or unroutable address); the local socket only sees a hang-up. */
  readonly lastFailure?: () => string | undefined;
  close(): Promise<void>;
}

export type Privilege =
  | { readonly kind: 'root' }
  | { readonly kind: 'sudo-passwordless' }
  | { readonly kind: 'sudo-password'; readonly password: string }
  | { readonly kind: 'login-user' };

export interface ExecOptions {
  stdin?: string | Buffer;
  timeoutMs?: number;
  /** Plain (non-secret) environment variables; secrets go through stdin, never argv or env. */
  env?: Record<string, string>;
  /** Run as the login user instead of root. */
  asLoginUser?: boolean;
}

export interface FileToWrite {
  readonly path: string;
  readonly content: string | Buffer;
  /** Octal permission bits, e.g. 0o644. Applied even when the file already exists. */
  readonly mode: number;
  /** `user:group`; default root:root. */
  readonly owner?: string;
}

export interface RemoteFile {
  readonly content: Buffer;
  readonly mode: number;
  readonly owner: string;
}

export class RemoteCommandError extends Error {
  constructor(
    readonly host: string,
    readonly command: string,
    readonly result: ExecResult,
  ) {
    // the last line of the command's output is usually the cause: it leads, as summaries show one line
    const tail = printable((result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join('\n'))
      .split('\n')
      .filter(Boolean);
    const cause = tail.pop() ?? 'no output';
    super(`${host}: ${cause} (exit code ${result.code} of: ${summarize(command)})${tail.length ? `\n${tail.join('\n')}` : ''}`);
    this.name = 'RemoteCommandError';
  }
}

/** The command's first line that says what it does (a batch's preamble says nothing). */
function summarize(command: string): string {
  const firstLine =
    command
      .trim()
      .split('\n')
      .find((l) => !/^(set -e|umask \d+|t=|trap .*)$/.test(l.trim())) ?? '';
  return firstLine.length > 120 ? `${firstLine.slice(0, 117)}...` : firstLine;
}

const DEFAULT_TIMEOUT_MS = 5 * 60_000;
/** How much later than kubestrap's own deadline the host's `timeout` kills a command. */
const HOST_DEADLINE_GRACE_S = 2;

/** Exit status of a password the sudo on the host did not accept (see SUDO_WITH_PASSWORD). */
export const SUDO_REJECTED_EXIT = 125;

/**
 * Reads the password line, has sudo validate it (sudo -v, password from a pipe) and runs what
 * follows with `sudo -n --`. Both sudo processes are children of the same shell, so they share
 * the credential cache even where it is kept per parent process (no terminal).
 */
const SUDO_WITH_PASSWORD = `IFS= read -r p || exit ${SUDO_REJECTED_EXIT}; printf '%s\\n' "$p" | sudo -S -p '' -v 2>/dev/null || exit ${SUDO_REJECTED_EXIT}; unset p; sudo -n --`;

export class Host {
  constructor(
    readonly name: string,
    private readonly channel: Channel,
    private readonly privilege: Privilege,
    private readonly log: RunLog,
  ) {
    if (privilege.kind === 'sudo-password') log.redactor.add(privilege.password);
  }

  /**
   * Wraps a script so that it runs with root privileges when the login user is not root, under
   * the host's own `timeout`: a command kubestrap gave up on must not keep running as root
   * (an SSH signal request is not honoured by every sshd). The host's deadline is a little later
   * than kubestrap's, so kubestrap reports the timeout; `timeout` kills the whole process group.
   */
  private wrap(script: string, asLoginUser: boolean, timeoutMs: number): { command: string; stdinPrefix: string } {
    const seconds = Math.ceil(timeoutMs / 1000) + HOST_DEADLINE_GRACE_S;
    const bounded = `if command -v timeout >/dev/null 2>&1; then exec timeout -s KILL ${seconds} sh -c ${quote(script)}; else exec sh -c ${quote(script)}; fi`;
    if (asLoginUser) return { command: bounded, stdinPrefix: '' };
    switch (this.privilege.kind) {
      case 'root':
      case 'login-user':
        return { command: bounded, stdinPrefix: '' };
      case 'sudo-passwordless':
        return { command: `sudo -n -- sh -c ${quote(bounded)}`, stdinPrefix: '' };
      case 'sudo-password':
        // The login shell, not sudo, takes the password line off stdin (sudo reads none when it
        // does not ask, and the line would reach the script: files, config). sudo validates it
        // from a pipe only sudo reads; the script then runs with those cached credentials
        // (-n: never a prompt), on an untouched stdin. The password reaches no argv (printf is
        // a builtin), no file and no environment.
        return { command: `${SUDO_WITH_PASSWORD} sh -c ${quote(bounded)}`, stdinPrefix: `${this.privilege.password}\n` };
    }
  }

  async exec(command: string | readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    let script = typeof command === 'string' ? command : quoteArgv(command);
    if (opts.env && Object.keys(opts.env).length) {
      const assignments = Object.entries(opts.env).map(([k, v]) => {
        // a name is not a value: it cannot be quoted, so it must be one
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`${JSON.stringify(k)} is not an environment variable name`);
        return `export ${k}=${quote(v)}`;
      });
      script = `${assignments.join('; ')}; ${script}`;
    }
    const body = opts.stdin === undefined ? Buffer.alloc(0) : Buffer.from(opts.stdin);
    const { raw, ms } = await this.runScript(script, body, opts);
    const result = { stdout: raw.stdout.toString('utf8'), stderr: raw.stderr.toString('utf8'), code: raw.code };
    this.log.command(this.name, script, { ...result, ms, stdinBytes: body.length });
    return result;
  }

  private async runScript(script: string, body: Buffer, opts: ExecOptions): Promise<{ raw: RawResult; ms: number }> {
    const started = Date.now();
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // Commands without input, issued in the same tick (phases reading ahead in parallel), share
    // one remote session: one round trip and one sshd session instead of one each.
    const raw =
      body.length === 0 && !opts.asLoginUser
        ? await this.batcher.run(script, timeoutMs)
        : await this.runAlone(script, body, opts.asLoginUser ?? false, timeoutMs);
    return { raw, ms: Date.now() - started };
  }

  private runAlone(script: string, body: Buffer, asLoginUser: boolean, timeoutMs: number): Promise<RawResult> {
    const { command, stdinPrefix } = this.wrap(script, asLoginUser, timeoutMs);
    const stdin = stdinPrefix || body.length ? Buffer.concat([Buffer.from(stdinPrefix), body]) : undefined;
    return this.channel.run(command, { stdin, timeoutMs });
  }

  private readonly batcher = new Batcher((script, timeoutMs) => this.runAlone(script, Buffer.alloc(0), false, timeoutMs));

  /**
   * Like check, with stdin read from a stream (a bundle upload of hundreds of MB is never held
   * in memory); never batched. Returns the bytes the stream delivered, for the run log.
   */
  async checkFrom(
    script: string,
    input: AsyncIterable<Uint8Array>,
    opts: { timeoutMs?: number } = {},
  ): Promise<ExecResult & { stdinBytes: number }> {
    const started = Date.now();
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const { command, stdinPrefix } = this.wrap(script, false, timeoutMs);
    let stdinBytes = 0;
    const counted = Readable.from(
      (async function* () {
        if (stdinPrefix) yield Buffer.from(stdinPrefix);
        for await (const piece of input) {
          stdinBytes += piece.length;
          yield piece;
        }
      })(),
    );
    const raw = await this.channel.run(command, { stdin: counted, timeoutMs });
    const result = { stdout: raw.stdout.toString('utf8'), stderr: raw.stderr.toString('utf8'), code: raw.code };
    this.log.command(this.name, script, { ...result, ms: Date.now() - started, stdinBytes });
    if (result.code !== 0) throw new RemoteCommandError(this.name, script, result);
    return { ...result, stdinBytes };
  }

  /** Like exec, but a non-zero exit code is an error naming the host and command. */
  async check(command: string | readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const result = await this.exec(command, opts);
    if (result.code !== 0) {
      const shown = typeof command === 'string' ? command : quoteArgv(command);
      throw new RemoteCommandError(this.name, this.log.redactor.redact(shown), {
        ...result,
        stderr: this.log.redactor.redact(result.stderr),
        stdout: this.log.redactor.redact(result.stdout),
      });
    }
    return result;
  }

  /**
   * Writes files atomically (temp file in the same directory, then rename) in one round trip.
   * Contents travel on stdin, so secrets never reach a process list or the log. A connection cut
   * mid-upload ends stdin early: `head` then stops short without failing, so each temp file's size
   * is checked before it replaces anything, and a temp file left by a failure is removed.
   */
  async writeFiles(files: readonly FileToWrite[]): Promise<void> {
    if (files.length === 0) return;
    const lines = ['set -e', 'umask 077', 't=', `trap 'if [ -n "$t" ]; then rm -f "$t"; fi' EXIT`];
    const chunks: Buffer[] = [];
    for (const file of files) {
      const content = Buffer.from(file.content);
      const dir = file.path.replace(/\/[^/]*$/, '') || '/';
      const mode = file.mode.toString(8).padStart(4, '0');
      const target = quote(file.path);
      lines.push(
        // a directory would swallow the file (mv into it) and a link would be replaced: both are someone else's, not ours to overwrite
        `if [ -d ${target} ] || [ -L ${target} ]; then echo ${quote(`kubestrap: ${file.path} is a directory or a symbolic link, not a file: refusing to replace it`)} >&2; exit 3; fi`,
        // missing parents as a package would make them (0755), not with the batch's umask 077
        `(umask 022 && mkdir -p ${quote(dir)})`,
        `t=$(mktemp ${quote(`${dir}/.kubestrap.XXXXXX`)})`,
        `head -c ${content.length} > "$t"`,
        `[ $(wc -c < "$t") -eq ${content.length} ] || { echo ${quote(`kubestrap: ${file.path}: the upload ended early (connection lost?); the file is unchanged`)} >&2; exit 4; }`,
        `chmod ${mode} "$t"`,
        `chown ${quote(file.owner ?? '0:0')} "$t"`,
        `mv -f "$t" ${target}`,
        't=',
      );
      chunks.push(content);
    }
    await this.check(lines.join('\n'), { stdin: Buffer.concat(chunks) });
  }

  async writeFile(path: string, content: string | Buffer, mode: number, owner?: string): Promise<void> {
    await this.writeFiles([{ path, content, mode, ...(owner ? { owner } : {}) }]);
  }

  /** Reads several files with their mode and owner in one round trip; absent files map to undefined. */
  async readFiles(paths: readonly string[]): Promise<Map<string, RemoteFile | undefined>> {
    const out = new Map<string, RemoteFile | undefined>();
    if (paths.length === 0) return out;
    // one stat and one cat for all present files, whatever their number; -L: cat follows symlinks, so must stat
    const list = paths.map(quote).join(' ');
    const script = `set --; for p in ${list}; do if [ -f "$p" ]; then echo P; set -- "$@" "$p"; else echo N; fi; done\nif [ $# -gt 0 ]; then stat -L -c '%s %a %U:%G' "$@" && cat "$@"; fi`;
    const { stdout } = await this.execRaw(script);
    let offset = 0;
    const nextLine = () => {
      const newline = stdout.indexOf(0x0a, offset);
      const line = stdout.subarray(offset, newline).toString('utf8');
      offset = newline + 1;
      return line;
    };
    const present = paths.map(() => nextLine() === 'P');
    const stats = present.filter(Boolean).map(() => nextLine().split(' '));
    let next = 0;
    paths.forEach((path, i) => {
      if (!present[i]) return out.set(path, undefined);
      const [size, mode, owner] = stats[next++]!;
      const length = Number(size);
      out.set(path, { content: Buffer.from(stdout.subarray(offset, offset + length)), mode: parseInt(mode ?? '0', 8), owner: owner ?? '' });
      offset += length;
    });
    return out;
  }

  async readFile(path: string): Promise<Buffer | undefined> {
    return (await this.readFiles([path])).get(path)?.content;
  }

  async exists(path: string): Promise<boolean> {
    const result = await this.exec(`test -e ${quote(path)}`);
    return result.code === 0;
  }

  forward(remotePort: number, remoteAddress = '127.0.0.1'): Promise<PortForward> {
    return this.channel.forward(remotePort, remoteAddress);
  }

  reconnect(timeoutMs: number): Promise<void> {
    return this.channel.reconnect(timeoutMs);
  }

  close(): Promise<void> {
    return this.channel.close();
  }

  /** exec for binary output: file contents must not go through a utf8 round trip. */
  private async execRaw(script: string): Promise<{ stdout: Buffer }> {
    const { raw, ms } = await this.runScript(script, Buffer.alloc(0), {});
    const stderr = raw.stderr.toString('utf8');
    this.log.command(this.name, script, { code: raw.code, stdout: `(${raw.stdout.length} bytes of file data)`, stderr, ms, stdinBytes: 0 });
    if (raw.code !== 0) {
      throw new RemoteCommandError(this.name, summarize(script), { code: raw.code, stdout: '', stderr: this.log.redactor.redact(stderr) });
    }
    return { stdout: raw.stdout };
  }
}
