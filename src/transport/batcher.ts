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
  readonly resolve: (r: RawResult) => void;
  readonly reject: (e: unknown) => void;
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
    // one background subshell per command, its status from `wait`; then every size from one
    // stat and every output from one cat: a batch of N costs the host N + 4 processes
    const files = batch.flatMap((_, i) => [`"$d/${i}.o"`, `"$d/${i}.e"`]).join(' ');
    const script = [
      'd=$(mktemp -d) || exit 97',
      ...batch.map((q, i) => `(\n${q.script}\n) >"$d/${i}.o" 2>"$d/${i}.e" </dev/null &\np${i}=$!`),
      batch.map((_, i) => `wait $p${i}; c${i}=$?`).join('\n'),
      `echo ${batch.map((_, i) => `$c${i}`).join(' ')}`,
      `stat -c %s ${files}`,
      `cat ${files}`,
      'rm -rf "$d"',
    ].join('\n');
    try {
      const raw = await this.runOne(script, Math.max(...batch.map((q) => q.timeoutMs)));
      if (raw.code !== 0) throw new Error(`batched commands could not run (exit ${raw.code}): ${raw.stderr.toString('utf8').trim()}`);
      const text = (from: number, to: number) => raw.stdout.subarray(from, to).toString('utf8');
      const lines: string[] = [];
      let offset = 0;
      // the status line, then two size lines per command
      while (lines.length < 1 + 2 * batch.length) {
        const newline = raw.stdout.indexOf(0x0a, offset);
        if (newline < 0) throw new Error('batched commands ended early: their output is incomplete');
        lines.push(text(offset, newline));
        offset = newline + 1;
      }
      const codes = lines[0]!.split(' ').map(Number);
      batch.forEach((q, i) => {
        const [outLength, errLength] = [Number(lines[1 + 2 * i]), Number(lines[2 + 2 * i])];
        const stdout = Buffer.from(raw.stdout.subarray(offset, offset + outLength));
        offset += outLength;
        const stderr = Buffer.from(raw.stdout.subarray(offset, offset + errLength));
        offset += errLength;
        q.resolve({ stdout, stderr, code: codes[i]! });
      });
    } catch (err) {
      for (const q of batch) q.reject(err);
    }
  }
}
