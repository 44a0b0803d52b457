/**
 * Collects the commands a host is asked to run in one tick (phases reading ahead in parallel)
 * and runs them as one remote script, each in its own subshell, in parallel, with stdin from
 * /dev/null; the output is split back by byte counts. One round trip and one sshd session
 * instead of one each.
 */
export type RawResult = { stdout: Buffer; stderr: Buffer; code: number };

interface Queued {
  readonly script: string;
  readonly timeoutMs: number;
  resolve(r: RawResult): void;
  reject(e: unknown): void;
}

export class Batcher {
  private queue: Queued[] = [];

  constructor(private readonly runOne: (script: string, timeoutMs: number) => Promise<RawResult>) {}

  run(script: string, timeoutMs: number): Promise<RawResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ script, timeoutMs, resolve, reject });
      if (this.queue.length === 1) setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 1) {
      const [only] = batch as [Queued];
      return this.runOne(only.script, only.timeoutMs).then(only.resolve, only.reject);
    }
    const parts = batch.map((q, i) => `( (\n${q.script}\n) >"$d/${i}.o" 2>"$d/${i}.e" </dev/null; echo $? >"$d/${i}.c" ) &`);
    const script = [
      'd=$(mktemp -d) || exit 97',
      ...parts,
      'wait',
      `for i in ${batch.map((_, i) => i).join(' ')}; do printf '%s %s %s\\n' "$(cat "$d/$i.c")" "$(($(wc -c <"$d/$i.o")))" "$(($(wc -c <"$d/$i.e")))"; cat "$d/$i.o" "$d/$i.e"; done`,
      'rm -rf "$d"',
    ].join('\n');
    try {
      const raw = await this.runOne(script, Math.max(...batch.map((q) => q.timeoutMs)));
      if (raw.code !== 0) throw new Error(`batched commands could not run (exit ${raw.code}): ${raw.stderr.toString('utf8').trim()}`);
      let offset = 0;
      for (const q of batch) {
        const newline = raw.stdout.indexOf(0x0a, offset);
        const [code, outLength, errLength] = raw.stdout.subarray(offset, newline).toString('utf8').split(' ').map(Number) as [number, number, number];
        offset = newline + 1;
        const stdout = Buffer.from(raw.stdout.subarray(offset, offset + outLength));
        offset += outLength;
        const stderr = Buffer.from(raw.stdout.subarray(offset, offset + errLength));
        offset += errLength;
        q.resolve({ stdout, stderr, code });
      }
    } catch (err) {
      for (const q of batch) q.reject(err);
    }
  }
}

