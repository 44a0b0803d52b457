/**
 * Files kubestrap writes on the workstation: whole or not at all, with their mode from the first
 * byte, and never through a link someone planted at the path (the temp file is created
 * exclusively beside the target, then renamed over it, which replaces a link instead of
 * following it).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export function writeLocalFile(path: string, content: string | Buffer, mode: number): void {
  const temp = join(dirname(path), `.${basename(path)}.kubestrap-${randomBytes(6).toString('hex')}`);
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    fchmodSync(fd, mode); // the umask may have taken bits off at creation
    writeSync(fd, typeof content === 'string' ? Buffer.from(content) : content);
  } catch (err) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(temp, path);
}
