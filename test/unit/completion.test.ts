/**
 * Shell completion run in the real shells: the script `kubestrap completion SHELL` prints,
 * sourced in bash, zsh and fish, completing a partial command, a flag, a phase name and a host
 * name of the inventory on the command line (kubestrap on PATH as users install it).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { tempDir } from '../lab/helpers.js';

const bin = tempDir('completion-bin');
writeFileSync(
  join(bin, 'kubestrap'),
  `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(resolve('bin/kubestrap.js'))} "$@"\n`,
);
chmodSync(join(bin, 'kubestrap'), 0o755);
const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
const inventory = resolve('inventories/lab.yaml');

const shell = (program: string, script: string) => execFileSync(program, ['-c', script], { env, encoding: 'utf8' });
const lines = (text: string) => text.split('\n').filter(Boolean);

/** The candidates for a command line ending in the word being completed ('' after a space). */
const CASES: ReadonlyArray<[string, readonly string[], readonly string[]]> = [
  ['a partial command', ['cer'], ['certs']],
  ['a subcommand', ['certs', 're'], ['renew']],
  ['a flag', ['apply', '--ski'], ['--skip']],
  ['a phase name for --only', ['plan', '--only', 'kernel-m'], ['kernel-modules']],
  ['a host name from -i FILE', ['apply', '-i', inventory, '--hosts', 'node-'], ['node-1', 'node-2', 'node-3']],
  ['the next host of a list', ['apply', '-i', inventory, '--hosts', 'node-1,node-'], ['node-1,node-2', 'node-1,node-3']],
];

describe('bash', () => {
  test('complete -p shows the function kubestrap is completed with', () => {
    expect(shell('bash', 'source <(kubestrap completion bash); complete -p kubestrap').trim()).toBe(
      'complete -o default -F _kubestrap kubestrap',
    );
  });

  test.each(CASES)('%s', (_what, words, expected) => {
    const array = ['kubestrap', ...words].map((w) => `'${w}'`).join(' ');
    const out = shell(
      'bash',
      `source <(kubestrap completion bash); COMP_WORDS=(${array}); COMP_CWORD=${words.length}; _kubestrap; printf '%s\\n' "\${COMPREPLY[@]}"`,
    );
    expect(lines(out).sort()).toEqual([...expected]);
  });

  test('compgen over the same candidates the program gives', () => {
    const out = shell('bash', `compgen -W "$(kubestrap __complete up)" -- up`);
    expect(lines(out)).toEqual(['upgrade']);
  });
});

describe('zsh', () => {
  // compadd exists only inside zsh's completion widgets: a stand-in prints what it is given
  test.each(CASES)('%s', (_what, words, expected) => {
    const array = ['kubestrap', ...words].map((w) => `'${w}'`).join(' ');
    const out = shell(
      'zsh',
      `compdef() { :; }; compadd() { print -l -- "\${(P@)2}"; }; source <(kubestrap completion zsh); words=(${array}); CURRENT=${words.length + 1}; _kubestrap`,
    );
    expect(
      lines(out)
        .filter((c) => c.startsWith(words.at(-1)!))
        .sort(),
    ).toEqual([...expected]);
  });
});

describe('fish', () => {
  test.each(CASES)('%s', (_what, words, expected) => {
    const line = ['kubestrap', ...words].map((w) => `'${w}'`).join(' ');
    const out = shell('fish', `kubestrap completion fish | source; complete -C ${JSON.stringify(line.replace(/'/g, ''))}`);
    expect(
      lines(out)
        .map((l) => l.split('\t')[0]!)
        .sort(),
    ).toEqual([...expected]);
  });
});
