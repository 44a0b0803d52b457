/** Waiting for something another process brings about: the one polling loop of kubestrap. */

export interface PollOptions {
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** The error message when time is up; may gather evidence (logs, what is still missing). */
  readonly failure: () => string | Promise<string>;
  /** A check that throws counts as "not yet" (a restarting server refuses connections). */
  readonly ignoreErrors?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Calls `check` until it returns a value (neither undefined nor false), which it returns; throws `failure()` after `timeoutMs`. */
export async function pollUntil<T>(check: () => Promise<T | undefined | false>, options: PollOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const result = options.ignoreErrors ? await check().catch(() => undefined) : await check();
    if (result !== undefined && result !== false) return result;
    if (Date.now() > deadline) throw new Error(await options.failure());
    await sleep(options.intervalMs ?? 2000);
  }
}
