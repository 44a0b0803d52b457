/** The local channel (for `kubestrap join` on the node itself), on this machine. */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunLog } from '../../src/log/run-log.js';
import { Host, type Channel } from '../../src/transport/host.js';
import { LocalChannel } from '../../src/transport/local.js';
import { tempDir } from '../lab/helpers.js';

const host = new Host('localhost', new LocalChannel(), { kind: 'login-user' }, RunLog.disabled());

describe('local channel', () => {
  it('runs sh scripts with stdin, env and exit codes', async () => {
    expect(await host.exec('read x; echo "$x-$V"; exit 4', { stdin: 'in\n', env: { V: 'env' } })).toEqual({
      stdout: 'in-env\n',
      stderr: '',
      code: 4,
    });
  });

  it('writes files atomically with modes and reads them back', async () => {
    const dir = tempDir('local');
    const owner = `${process.getuid!()}:${process.getgid!()}`;
    await host.writeFiles([{ path: join(dir, 'a/b.conf'), content: 'x=1\n', mode: 0o640, owner }]);
    expect(readFileSync(join(dir, 'a/b.conf'), 'utf8')).toBe('x=1\n');
    expect(statSync(join(dir, 'a/b.conf')).mode & 0o777).toBe(0o640);
    const read = await host.readFiles([join(dir, 'a/b.conf'), join(dir, 'missing')]);
    expect(read.get(join(dir, 'a/b.conf'))?.mode).toBe(0o640);
    expect(read.get(join(dir, 'missing'))).toBeUndefined();
  });

  it('FAKE cut connection (a channel that delivers only part of stdin, as a lost SSH session does): no file is replaced by a truncated upload, no temp file stays, the error says so', async () => {
    const dir = tempDir('cut');
    writeFileSync(join(dir, 'first.conf'), 'old first\n');
    writeFileSync(join(dir, 'second.conf'), 'old second\n');
    const local = new LocalChannel();
    const cut: Channel = {
      run: (script, opts) =>
        local.run(script, { ...opts, ...(opts.stdin ? { stdin: (opts.stdin as Buffer).subarray(0, 'new first\n'.length + 4) } : {}) }),
      forward: (port, address) => local.forward(port, address),
      reconnect: (ms) => local.reconnect(ms),
      close: () => local.close(),
    };
    const cutHost = new Host('localhost', cut, { kind: 'login-user' }, RunLog.disabled());
    const owner = `${process.getuid!()}:${process.getgid!()}`;
    const writing = cutHost.writeFiles([
      { path: join(dir, 'first.conf'), content: 'new first\n', mode: 0o644, owner },
      { path: join(dir, 'second.conf'), content: 'new second, longer than what arrives\n', mode: 0o644, owner },
    ]);
    await expect(writing).rejects.toThrow(
      /second\.conf: the upload ended early \(connection lost\?\); the file is unchanged \(exit code 4 of: if \[ -d /,
    );
    // the first file arrived whole and was replaced; the second is untouched; nothing else is left
    expect(readFileSync(join(dir, 'first.conf'), 'utf8')).toBe('new first\n');
    expect(readFileSync(join(dir, 'second.conf'), 'utf8')).toBe('old second\n');
    expect(readdirSync(dir).sort()).toEqual(['first.conf', 'second.conf']);
  });

  it('times out', async () => {
    await expect(host.exec('sleep 5', { timeoutMs: 200 })).rejects.toThrow(/timed out/);
  });

  it('forwards a port to itself', async () => {
    expect((await host.forward(6443)).localPort).toBe(6443);
  });
});

describe('commands issued together share one session', () => {
  it("keeps each command's stdout, stderr and exit code apart, binary-safe", async () => {
    const scripts = ['printf "a\\nb"; echo err >&2; exit 3', 'cat; echo "stdin was empty"', 'exit 0', 'sleep 0.2; echo late'];
    const results = await Promise.all(scripts.map((s) => host.exec(s)));
    expect(results).toEqual([
      { stdout: 'a\nb', stderr: 'err\n', code: 3 },
      { stdout: 'stdin was empty\n', stderr: '', code: 0 },
      { stdout: '', stderr: '', code: 0 },
      { stdout: 'late\n', stderr: '', code: 0 },
    ]);
    const dir = tempDir('batch');
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    writeFileSync(join(dir, 'bin'), binary);
    writeFileSync(join(dir, 'text'), 'hello\n');
    const [a, b] = await Promise.all([host.readFiles([join(dir, 'bin')]), host.readFiles([join(dir, 'missing'), join(dir, 'text')])]);
    expect(a.get(join(dir, 'bin'))?.content).toEqual(binary);
    expect(b.get(join(dir, 'missing'))).toBeUndefined();
    expect(b.get(join(dir, 'text'))?.content.toString()).toBe('hello\n');
  });
});
