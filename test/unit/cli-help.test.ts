import { spawn, spawnSync } from 'node:child_process';
import type { Command } from 'commander';
import { program } from '../../src/cli/main.js';
import { readFileSync } from 'node:fs';
import { describe, expect, it, test } from 'vitest';

/** kubestrap with a command line of plain words (none has a space in it). */
const kubestrap = (line: string, timeout?: number) =>
  spawnSync(process.execPath, ['bin/kubestrap.js', ...line.split(' ')], { encoding: 'utf8', ...(timeout ? { timeout } : {}) });

function help(args: string[]): string {
  const r = spawnSync(process.execPath, ['bin/kubestrap.js', ...args, '--help'], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  return r.stdout;
}

const COMMANDS = [
  ['adopt'],
  ['kubeconfig'],
  ['completion'],
  ['validate'],
  ['plan'],
  ['apply'],
  ['join'],
  ['reset'],
  ['facts'],
  ['doctor'],
  ['exec'],
  ['certs', 'generate'],
  ['certs', 'renew'],
  ['certs', 'check-expiration'],
  ['certs', 'certificate-key'],
  ['certs', 'upload'],
  ['token', 'create'],
  ['token', 'list'],
  ['token', 'delete'],
  ['token', 'generate'],
  ['upgrade', 'plan'],
  ['upgrade', 'apply'],
  ['schema'],
];

describe('command-line help', () => {
  it('lists every command', () => {
    const text = help([]);
    for (const name of ['adopt', 'validate', 'plan', 'apply', 'join', 'reset', 'facts', 'exec', 'certs', 'token', 'upgrade', 'schema'])
      expect(text).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
  });

  it.each(COMMANDS)('%s %s shows its flags and an example', (...cmd) => {
    const text = help(cmd.filter(Boolean));
    expect(text).toMatch(/^Options:/m);
    expect(text).toMatch(/^Examples?:\n {2}kubestrap /m);
  });

  it('join and token flags are checked before anything is contacted; a mistyped token or key is never echoed', () => {
    const cases: Array<[line: string, messages: string[]]> = [
      [
        'join 10.0.0.10 --token SECRETabc.SECRETdef0123456 --discovery-token-ca-cert-hash md5:1234 --certificate-key SECRETKEY --cri-socket /run/x.sock',
        [
          '--token: invalid bootstrap token',
          'API endpoint "10.0.0.10" has no port',
          '--discovery-token-ca-cert-hash: invalid CA hash "md5:1234"',
          '--certificate-key is only for --control-plane joins',
          '--certificate-key: invalid certificate key',
          '--cri-socket "/run/x.sock": expected unix:///path/to/socket',
        ],
      ],
      [
        'token create SECRETabc.def --ttl 1d --usages signing,sining --groups system:nodes --certificate-key SECRETKEY',
        [
          '[token]: invalid bootstrap token',
          '--ttl "1d": expected a duration',
          '--usages: unknown usage "sining"',
          '--groups: group "system:nodes" must match',
          '--certificate-key only goes into the printed join command',
        ],
      ],
      ['token delete abcdef SECRETx.y', ['argument 2 is neither a token id']],
    ];
    for (const [line, messages] of cases) {
      const result = kubestrap(line);
      expect(result.status, line).toBe(2);
      for (const message of messages) expect(result.stderr, line).toContain(message);
      expect(result.stderr, line).not.toMatch(/SECRET/);
    }
  });

  it('a wrong flag is a usage error with exit code 2', () => {
    const r = kubestrap('plan -i x.yaml --inventory-file x');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown option '--inventory-file'");
  });

  it('upgrade checks --max-unavailable before reading the inventory or contacting a host', () => {
    const r = kubestrap('upgrade apply -i inventories/1cp-2workers.yaml --max-unavailable 0');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--max-unavailable: expected a whole number of workers, 1 or more (got "0")');
  });

  it('token create bounds --ttl before contacting the cluster (audit L7)', () => {
    const r = kubestrap('token create --ttl 99999999999h -i inventories/1cp-2workers.yaml', 20_000);
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

/** Every command's path (`certs renew`), from the program itself. */
function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => [[...prefix, c.name()], ...commandPaths(c, [...prefix, c.name()])]);
}

/** Runs the CLI with its stdout a pipe the reader closes at once, as `| head -1` does after its line. */
function intoClosedPipe(args: readonly string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/kubestrap.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

test("output into a closed pipe ends quietly with SIGPIPE's status (141) or success, for every command's help and for the long outputs", async () => {
  const runs = [...commandPaths(program()).map((p) => [...p, '--help']), ['--help'], ['schema']];
  expect(runs.length).toBeGreaterThan(25);
  for (const args of runs) {
    const { status, stderr } = await intoClosedPipe(args);
    expect(stderr, args.join(' ')).not.toMatch(/EPIPE|^\s+at /m);
    expect([0, 141], `${args.join(' ')}: exit ${status}`).toContain(status);
  }
  // the long output is sure to meet the closed pipe
  expect((await intoClosedPipe(['schema'])).status).toBe(141);
}, 120_000);
