/**
 * The per-run log file: every remote command, its exit code and output, with secrets redacted.
 * The screen shows progress; this file is what an operator reads after a failure.
 */
import { constants, createWriteStream, fchmodSync, mkdirSync, openSync, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { stateDir } from '../util/paths.js';
import { Redactor } from './redact.js';

const MAX_LOGGED_OUTPUT = 64 * 1024;

export class RunLog {
  readonly redactor = new Redactor();
  private readonly stream: WriteStream | undefined;

  constructor(readonly path: string | undefined) {
    if (path) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // appended to, never through a link; 0600 even when the file existed with a looser mode
      const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
      fchmodSync(fd, 0o600);
      this.stream = createWriteStream('', { fd });
    }
  }

  /** A log in ~/.kubestrap/logs named after the command and the start time. */
  static forCommand(command: string, explicitPath?: string): RunLog {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    return new RunLog(explicitPath ?? join(stateDir(), 'logs', `${stamp}-${command}.log`));
  }

  static disabled(): RunLog {
    return new RunLog(undefined);
  }

  write(scope: string, message: string): void {
    if (!this.stream) return;
    const text = this.redactor.redact(message);
    this.stream.write(`${new Date().toISOString()} [${scope}] ${text}\n`);
  }

  command(host: string, script: string, result: { code: number; stdout: string; stderr: string; ms: number; stdinBytes: number }): void {
    const clip = (s: string) =>
      s.length > MAX_LOGGED_OUTPUT ? `${s.slice(0, MAX_LOGGED_OUTPUT)}\n… (${s.length - MAX_LOGGED_OUTPUT} more bytes)` : s;
    const parts = [
      `$ ${script}`,
      `exit ${result.code} in ${result.ms} ms${result.stdinBytes ? `, ${result.stdinBytes} bytes on stdin (not logged)` : ''}`,
    ];
    if (result.stdout) parts.push(`stdout:\n${clip(result.stdout)}`);
    if (result.stderr) parts.push(`stderr:\n${clip(result.stderr)}`);
    this.write(host, parts.join('\n'));
  }

  async close(): Promise<void> {
    const stream = this.stream;
    if (stream) await new Promise<void>((resolve) => stream.end(resolve));
  }
}
