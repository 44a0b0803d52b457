/** Maps with at most `limit` calls in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** A queue that runs the work given to it one piece after another, whoever calls and whatever fails. */
export function serialQueue(): <T>(work: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(work: () => Promise<T>) => {
    const run = tail.then(work, work);
    tail = run.catch(() => undefined);
    return run;
  };
}

/**
 * A rolling change: at most `limit` pieces of work at once, and none started after one failed
 * (a half-upgraded cluster must not lose more nodes to the same fault).
 */
export function rollingQueue(limit: number): <T>(name: string, work: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: Array<() => void> = [];
  let failed: string | undefined;
  return async <T>(name: string, work: () => Promise<T>) => {
    while (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    if (failed) throw new Error(`not started: ${failed} failed before, and a rolling change stops at its first failure`);
    running++;
    try {
      return await work();
    } catch (err) {
      failed ??= name;
      throw err;
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}
