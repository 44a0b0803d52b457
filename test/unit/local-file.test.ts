/** Workstation files (etcd snapshot, report, log, init, admin.conf, rendered PKI): audit L5. */
import { lstatSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { RunLog } from '../../src/log/run-log.js';
import { writeLocalFile } from '../../src/util/local-file.js';
import { tempDir } from '../lab/helpers.js';

test('a file written over a planted symlink replaces the link and leaves its target alone; over a loose file it ends 0600', () => {
  const dir = tempDir('lf');
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'keep me');
  symlinkSync(victim, join(dir, 'snapshot.db'));
  writeLocalFile(join(dir, 'snapshot.db'), 'secret data', 0o600);
  expect(readFileSync(victim, 'utf8')).toBe('keep me');
  expect(lstatSync(join(dir, 'snapshot.db')).isSymbolicLink()).toBe(false);
  expect(statSync(join(dir, 'snapshot.db')).mode & 0o777).toBe(0o600);
  writeFileSync(join(dir, 'report.json'), 'old', { mode: 0o644 });
  writeLocalFile(join(dir, 'report.json'), '{}', 0o600);
  expect([readFileSync(join(dir, 'report.json'), 'utf8'), statSync(join(dir, 'report.json')).mode & 0o777]).toEqual(['{}', 0o600]);
});

test('a --log-file that exists with a loose mode is made 0600; one that is a symlink is refused', async () => {
  const dir = tempDir('log');
  writeFileSync(join(dir, 'run.log'), 'before\n', { mode: 0o644 });
  const log = new RunLog(join(dir, 'run.log'));
  await log.close();
  expect(statSync(join(dir, 'run.log')).mode & 0o777).toBe(0o600);
  symlinkSync(join(dir, 'run.log'), join(dir, 'link.log'));
  expect(() => new RunLog(join(dir, 'link.log'))).toThrow(/ELOOP/);
});
