import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it, test } from 'vitest';

function help(args: string[]): string {
  const r = spawnSync(process.execPath, ['bin/kubestrap.js', ...args, '--help'], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  return r.stdout;
}

const COMMANDS = [
  ['validate'], ['plan'], ['apply'], ['join'], ['reset'], ['facts'], ['exec'],
  ['certs', 'generate'], ['certs', 'renew'], ['certs', 'check-expiration'], ['certs', 'certificate-key'], ['certs', 'upload'],
  ['token', 'create'], ['token', 'list'], ['token', 'delete'], ['token', 'generate'], ['upgrade', 'plan'], ['upgrade', 'apply'], ['schema'],
];

describe('command-line help', () => {
  it('lists every command', () => {
    const text = help([]);
    for (const name of ['validate', 'plan', 'apply', 'join', 'reset', 'facts', 'exec', 'certs', 'token', 'upgrade', 'schema']) expect(text).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
  });

  it.each(COMMANDS)('%s %s shows its flags and an example', (...cmd) => {
    const text = help(cmd.filter(Boolean));
    expect(text).toMatch(/^Options:/m);
    expect(text).toMatch(/^Examples?:\n  kubestrap /m);
  });

  it('join and token flags are checked before anything is contacted; a mistyped token or key is never echoed', () => {
    const run = (args: string[]) => spawnSync(process.execPath, ['bin/kubestrap.js', ...args], { encoding: 'utf8' });
    const join = run(['join', '10.0.0.10', '--token', 'SECRETabc.SECRETdef0123456', '--discovery-token-ca-cert-hash', 'md5:1234', '--certificate-key', 'SECRETKEY', '--cri-socket', '/run/x.sock']);
    expect(join.status).toBe(2);
    expect(join.stderr).toContain('--token: invalid bootstrap token');
    expect(join.stderr).toContain('API endpoint "10.0.0.10" has no port');
    expect(join.stderr).toContain('--discovery-token-ca-cert-hash: invalid CA hash "md5:1234"');
    expect(join.stderr).toContain('--certificate-key is only for --control-plane joins');
    expect(join.stderr).toContain('--certificate-key: invalid certificate key');
    expect(join.stderr).toContain('--cri-socket "/run/x.sock": expected unix:///path/to/socket');
    expect(join.stderr).not.toMatch(/SECRET/);
    const create = run(['token', 'create', 'SECRETabc.def', '--ttl', '1d', '--usages', 'signing,sining', '--groups', 'system:nodes', '--certificate-key', 'SECRETKEY']);
    expect(create.status).toBe(2);
    expect(create.stderr).toContain('[token]: invalid bootstrap token');
    expect(create.stderr).toContain('--ttl "1d": expected a duration');
    expect(create.stderr).toContain('--usages: unknown usage "sining"');
    expect(create.stderr).toContain('--groups: group "system:nodes" must match');
    expect(create.stderr).toContain('--certificate-key only goes into the printed join command');
    expect(create.stderr).not.toMatch(/SECRET/);
    const del = run(['token', 'delete', 'abcdef', 'SECRETx.y']);
    expect(del.status).toBe(2);
    expect(del.stderr).toContain('argument 2 is neither a token id');
    expect(del.stderr).not.toMatch(/SECRET/);
  });

  it('a wrong flag is a usage error with exit code 2', () => {
    const r = spawnSync(process.execPath, ['bin/kubestrap.js', 'plan', '-i', 'x.yaml', '--inventory-file', 'x'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown option '--inventory-file'");
  });

  it('upgrade checks --max-unavailable before reading the inventory or contacting a host', () => {
    const r = spawnSync(process.execPath, ['bin/kubestrap.js', 'upgrade', 'apply', '-i', 'inventories/1cp-2workers.yaml', '--max-unavailable', '0'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--max-unavailable: expected a whole number of workers, 1 or more (got "0")');
  });

  it('token create bounds --ttl before contacting the cluster (audit L7)', () => {
    const r = spawnSync(process.execPath, ['bin/kubestrap.js', 'token', 'create', '--ttl', '99999999999h', '-i', 'inventories/1cp-2workers.yaml'], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--ttl 99999999999h: at most 8760h (a year)');
  });
});

test("kubestrap's version (--version, the API's User-Agent) is package.json's", async () => {
  const { KUBESTRAP_VERSION, USER_AGENT } = await import('../../src/util/product.js');
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  expect(KUBESTRAP_VERSION).toBe(pkg.version);
  expect(USER_AGENT).toBe(`kubestrap/${pkg.version}`);
});
