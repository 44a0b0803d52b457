/**
 * The package manager's lock, waited for instead of failed on: an unattended upgrade, a
 * cloud-init run or an operator's apt-get often holds it when kubestrap arrives. The holders are
 * read from /proc/locks (no fuser or lsof needed on the host), named in a progress line while
 * kubestrap waits, and named again in the error when the wait is over.
 */
import { quote } from '../transport/quote.js';
import { pollUntil } from '../util/poll.js';
import type { Host } from '../transport/host.js';

/** How long a held lock is waited for (an unattended upgrade of a few packages takes minutes). */
export const LOCK_WAIT_MS = 300_000;
const POLL_MS = 2000;

export interface LockHolder {
  readonly lock: string;
  readonly pid: number;
  readonly command: string;
}

/**
 * Prints `LOCK PID COMMAND` for each process holding one of `locks` (an fcntl or flock lock on
 * the file's inode; waiters, the `->` lines, hold nothing).
 */
export function lockHoldersScript(locks: readonly string[]): string {
  return [
    `for f in ${locks.map(quote).join(' ')}; do`,
    '  [ -e "$f" ] || continue',
    '  i=$(stat -c %i "$f")',
    `  for p in $(awk -v i="$i" '$2 != "->" && $6 ~ (":" i "$") {print $5}' /proc/locks | sort -u); do`,
    `    [ -r /proc/$p/cmdline ] && printf '%s %s %s\\n' "$f" "$p" "$(tr '\\0' ' ' < /proc/$p/cmdline)"`,
    '  done',
    'done',
    'true',
  ].join('\n');
}

export function parseLockHolders(output: string): LockHolder[] {
  return output.split('\n').flatMap((line) => {
    const m = /^(\S+) (\d+) (.*)$/.exec(line.trim());
    return m ? [{ lock: m[1]!, pid: Number(m[2]), command: m[3]!.trim() }] : [];
  });
}

const describeHolders = (holders: readonly LockHolder[]) => holders.map((h) => `${h.lock} held by PID ${h.pid} (${h.command})`).join('; ');

/** Returns once no process holds `locks` on the host, telling `progress` at each poll while one does; throws after `timeoutMs`. */
export async function whenUnlocked(
  host: Host,
  locks: readonly string[],
  progress: (line: string) => void,
  timeoutMs = LOCK_WAIT_MS,
): Promise<void> {
  const started = Date.now();
  let holders: LockHolder[] = [];
  await pollUntil(
    async () => {
      holders = parseLockHolders((await host.check(lockHoldersScript(locks))).stdout);
      if (holders.length)
        progress(
          `waiting for the package manager (${Math.round((Date.now() - started) / 1000)} s of ${timeoutMs / 1000} s): ${describeHolders(holders)}`,
        );
      return holders.length === 0;
    },
    {
      timeoutMs,
      intervalMs: POLL_MS,
      failure: () =>
        `the package manager stayed locked for ${timeoutMs / 1000} s: ${describeHolders(holders)}; let it finish (or stop it), then run kubestrap again`,
    },
  );
}
