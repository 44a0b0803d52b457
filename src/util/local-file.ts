/**
 * Files kubestrap writes on the workstation: whole or not at all, with their mode from the first
 * byte, and never through a link someone planted at the path (the temp file is created
 * exclusively beside the target, then renamed over it, which replaces a link instead of
 * following it).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

interface Pending {
  readonly fd: number;
  readonly temp: string;
}

function begin(path: string, mode: number): Pending {
  const temp = join(dirname(path), `.${basename(path)}.kubestrap-${randomBytes(6).toString('hex')}`);
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  fchmodSync(fd, mode); // the umask may have taken bits off at creation
  return { fd, temp };
}

function end(pending: Pending, path: string, failure?: unknown): void {
  closeSync(pending.fd);
  if (failure === undefined) renameSync(pending.temp, path);
  else rmSync(pending.temp, { force: true });
}

export function writeLocalFile(path: string, content: string | Buffer, mode: number): void {
  const pending = begin(path, mode);
  try {
    writeSync(pending.fd, typeof content === 'string' ? Buffer.from(content) : content);
  } catch (err) {
    end(pending, path, err);
    throw err;
  }
  end(pending, path);
}

/** Like writeLocalFile, for content that arrives in pieces (`fill` writes them); the file appears only once it is whole. */
export async function writeLocalFileFrom(
  path: string,
  mode: number,
  fill: (write: (piece: Buffer) => void) => Promise<void>,
): Promise<void> {
  const pending = begin(path, mode);
  try {
    await fill((piece) => writeSync(pending.fd, piece));
  } catch (err) {
    end(pending, path, err);
    throw err;
  }
  end(pending, path);
}
