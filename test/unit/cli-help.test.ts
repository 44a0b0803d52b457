import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function help(args: string[]): string {
  const r = spawnSync(process.execPath, ['bin/kubestrap.js', ...args, '--help'], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  return r.stdout;
}

const COMMANDS = [['validate'], ['plan'], ['apply'], ['facts'], ['exec'], ['certs', 'generate'], ['certs', 'renew'], ['certs', 'check-expiration'], ['certs', 'certificate-key'], ['token', 'generate'], ['schema']];

describe('command-line help', () => {
  it('lists every command', () => {
    const text = help([]);
    for (const name of ['validate', 'plan', 'apply', 'facts', 'exec', 'certs', 'token', 'schema']) expect(text).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
  });

  it.each(COMMANDS)('%s %s shows its flags and an example', (...cmd) => {
    const text = help(cmd.filter(Boolean));
    expect(text).toMatch(/^Options:/m);
    expect(text).toMatch(/^Examples?:\n  kubestrap /m);
  });

  it('a wrong flag is a usage error with exit code 2', () => {
    const r = spawnSync(process.execPath, ['bin/kubestrap.js', 'plan', '-i', 'x.yaml', '--inventory-file', 'x'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown option '--inventory-file'");
  });
});
