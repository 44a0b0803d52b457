/**
 * ~/.ssh/config read as OpenSSH reads it: each row of the table is checked against what the real
 * `ssh -G NAME` prints for the same file (Host patterns and negation, first value wins, Include
 * at the top and inside a block, Match on the original and the substituted host name, % tokens,
 * ProxyJump chains, UserKnownHostsFile, HostKeyAlias, StrictHostKeyChecking).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseInventory } from '../../src/inventory/load.js';
import { resolveHosts } from '../../src/inventory/resolve.js';
import { resolveTargets } from '../../src/transport/credentials.js';
import { SshConfigError, SshConfigFile, type SshHostConfig } from '../../src/transport/ssh-config.js';
import { tempDir } from '../lab/helpers.js';

const home = tempDir('ssh-config-home');
const dot = join(home, '.ssh');
mkdirSync(join(dot, 'conf.d'), { recursive: true });
mkdirSync(join(dot, 'cond.d'), { recursive: true });
const config = join(dot, 'config');
writeFileSync(
  config,
  `# the operator's own file
Include conf.d/*.conf
Host web-*
  User deploy
  Port 2222
Host web-1
  HostName 10.0.0.5
  User other
Host *.corp !bad.corp
  ProxyJump jump1,ops@jump2:2200
  IdentityFile ${dot}/corp_key
  IdentityFile ~/.ssh/id_%r
Host jump1
  HostName 192.0.2.1
  User jumper
Host db
  HostName %h.internal.example
  StrictHostKeyChecking no
  UserKnownHostsFile ${dot}/known_%h ${dot}/known_lab2
  HostKeyAlias dbkey
Host cond
  Include cond.d/*
  Port 2201
Match originalhost matched
  HostName 10.1.1.1
Match host 10.9.9.9
  User by-address
Host eq
  HostName=10.2.2.2
  Port = 2300
Host v6
  ProxyJump u@[2001:db8::1]:2222
Host nojump
  ProxyJump none
Host *
  User fallback
`,
);
writeFileSync(join(dot, 'conf.d', 'a.conf'), 'Host inc\n  HostName 10.9.9.9\n  Port 2022\n');
writeFileSync(join(dot, 'conf.d', 'ignored.txt'), 'Host inc\n  Port 9999\n');
// lines before its own Host line belong to the including block; its Host block ends with the file
writeFileSync(join(dot, 'cond.d', 'x'), 'HostName 10.3.3.3\nHost cond-inner\n  HostName 10.4.4.4\n');

/** What `ssh -G` says, as the fields kubestrap uses. */
function sshG(name: string): Record<string, string> {
  const out = execFileSync('ssh', ['-F', config, '-G', name], {
    env: { ...process.env, HOME: home },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const fields: Record<string, string[]> = {};
  for (const line of out.split('\n')) {
    const [key, ...rest] = line.split(' ');
    if (key) (fields[key] ??= []).push(rest.join(' '));
  }
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v.join('\n')]));
}

/** ssh prints IdentityFile as written; the same ~ kubestrap expands. */
const tilde = (path: string) => path.replace(/^~\//, `${home}/`);
const STRICT: Record<string, string> = { no: 'false', off: 'false', yes: 'true', ask: 'ask', 'accept-new': 'accept-new' };

/** kubestrap's reading in ssh -G's terms (ssh's defaults where the file sets nothing). */
function asSshG(c: SshHostConfig): Record<string, string | undefined> {
  return {
    hostname: c.hostName,
    user: c.user ?? userInfo().username,
    port: String(c.port ?? 22),
    proxyjump: c.proxyJump.length
      ? c.proxyJump
          .map((h) => `${h.user ? `${h.user}@` : ''}${h.host.includes(':') ? `[${h.host}]` : h.host}${h.port ? `:${h.port}` : ''}`)
          .join(',')
      : undefined,
    hostkeyalias: c.hostKeyAlias,
    stricthostkeychecking: c.strictHostKeyChecking ? STRICT[c.strictHostKeyChecking] : 'ask',
  };
}

const NAMES = [
  'web-1',
  'web-2',
  'a.corp',
  'bad.corp',
  'jump1',
  'db',
  'inc',
  'cond',
  'cond-inner',
  'matched',
  'eq',
  'v6',
  'nojump',
  'unlisted',
];

describe('~/.ssh/config as ssh -G reads it', () => {
  const file = SshConfigFile.load(config, { home });

  test.each(NAMES)('%s', (name) => {
    const ours = file.lookup(name);
    const theirs = sshG(name);
    const expected = asSshG(ours);
    expect({
      hostname: theirs.hostname,
      user: theirs.user,
      port: theirs.port,
      proxyjump: theirs.proxyjump,
      hostkeyalias: theirs.hostkeyalias,
      stricthostkeychecking: theirs.stricthostkeychecking,
    }).toEqual(expected);
    // ssh prints IdentityFile unexpanded: ~ and %r (the remote user) expanded here as ssh does when it reads the key
    if (ours.identityFiles.length)
      expect(theirs.identityfile!.split('\n').map((f) => tilde(f).replace('%r', theirs.user!))).toEqual(ours.identityFiles);
    if (ours.userKnownHostsFiles) expect(theirs.userknownhostsfile!.split(' ')).toEqual(ours.userKnownHostsFiles);
  });

  test('the values the table relies on are the ones the file meant', () => {
    expect(file.lookup('web-1')).toMatchObject({ hostName: '10.0.0.5', user: 'deploy', port: 2222 });
    expect(file.lookup('a.corp').proxyJump).toEqual([{ host: 'jump1' }, { host: 'jump2', user: 'ops', port: 2200 }]);
    expect(file.lookup('a.corp').identityFiles).toEqual([`${dot}/corp_key`, `${dot}/id_fallback`]);
    expect(file.lookup('db')).toMatchObject({
      hostName: 'db.internal.example',
      hostKeyAlias: 'dbkey',
      strictHostKeyChecking: 'no',
      userKnownHostsFiles: [`${dot}/known_db.internal.example`, `${dot}/known_lab2`],
    });
    expect(file.lookup('inc')).toMatchObject({ hostName: '10.9.9.9', port: 2022, user: 'by-address' });
    expect(file.lookup('cond')).toMatchObject({ hostName: '10.3.3.3', port: 2201 });
    expect(file.lookup('cond-inner').hostName).toBe('cond-inner');
    expect(file.lookup('v6').proxyJump).toEqual([{ host: '2001:db8::1', user: 'u', port: 2222 }]);
    expect(file.lookup('unlisted')).toEqual({
      hostName: 'unlisted',
      user: 'fallback',
      identityFiles: [],
      identitiesOnly: false,
      proxyJump: [],
    });
  });
});

describe('mistakes in the file are named by file and line before any host is contacted', () => {
  const write = (name: string, text: string) => {
    const path = join(dot, name);
    writeFileSync(path, text);
    return path;
  };

  test.each([
    ['a port that is not a number', 'bad-port', 'Host x\n  Port ssh\n', /bad-port:2: Port "ssh" is not a port number/],
    ['a hop that is not [user@]host[:port]', 'bad-jump', 'Host x\n  ProxyJump a@@b\n', /bad-jump:2: ProxyJump hop "a@@b"/],
    ['an Include of itself, forever', 'bad-loop', `Include ${join(dot, 'bad-loop')}\n`, /Include nested deeper than 16 files/],
    [
      'a wildcard in a directory name',
      'bad-glob',
      'Include */x\n',
      /bad-glob:1: Include "\*\/x": kubestrap supports wildcards only in the file name/,
    ],
  ])('%s', (_what, name, text, message) => {
    expect(() => SshConfigFile.load(write(name, text), { home })).toThrow(message);
    expect(() => SshConfigFile.load(write(name, text), { home })).toThrow(SshConfigError);
  });

  test('Include bounded in width as well as depth: 16 files each including the next three times are refused by name, not expanded 3^15 times (R2-I3)', () => {
    for (let i = 0; i < 16; i++)
      write(
        `wide-${i}`,
        i === 15
          ? 'Host leaf\n  Port 22\n'
          : `Include ${join(dot, `wide-${i + 1}`)} ${join(dot, `wide-${i + 1}`)} ${join(dot, `wide-${i + 1}`)}\n`,
      );
    expect(() => SshConfigFile.load(join(dot, 'wide-0'), { home })).toThrow(
      /wide-\d+: more than 1024 files read through Include for one host \(a file included again and again\?\)/,
    );
  });

  test('a HostName that is not a host name, and an unknown token, are refused for the host that uses them', () => {
    const file = SshConfigFile.load(write('bad-host', 'Host x\n  HostName a;b\nHost y\n  HostName %z\n'), { home });
    expect(() => file.lookup('x')).toThrow(/bad-host:2: HostName "a;b" for x is not a host name or address/);
    expect(() => file.lookup('y')).toThrow(/bad-host:4: token %z/);
  });

  test('a file named on the command line must exist; the default one may be absent', () => {
    expect(() => SshConfigFile.load(join(dot, 'missing'), { home, required: true })).toThrow(/missing: no such SSH configuration file/);
    expect(SshConfigFile.load(join(dot, 'missing'), { home }).lookup('h')).toEqual({
      hostName: 'h',
      identityFiles: [],
      identitiesOnly: false,
      proxyJump: [],
    });
  });
});

describe("the inventory's own fields win over the file", () => {
  test('port, user, keys and jump host from the inventory; the rest from the file; UserKnownHostsFile only where nothing chose a known_hosts file', async () => {
    const key = join(home, 'inventory_key');
    writeFileSync(key, 'a key file\n');
    writeFileSync(join(dot, 'corp_key'), 'the file key\n');
    const text = [
      'apiVersion: kubestrap.dev/v1alpha1',
      'kind: Cluster',
      'hosts:',
      '  - {name: cp-1, address: web-1, advertiseAddress: 10.0.0.5, roles: [control-plane]}',
      `  - {name: w-1, address: a.corp, port: 2022, user: admin, auth: {keyPath: ${key}}, roles: [worker]}`,
      '  - {name: w-2, address: a.corp, port: 2023, bastion: {address: 192.0.2.99}, roles: [worker]}',
      '  - {name: w-3, address: db, roles: [worker]}',
      'cluster: {kubernetesVersion: v1.30.0}',
      '',
    ].join('\n');
    const inventory = (await parseInventory(text, 'inv.yaml')).inventory;
    const notes: string[] = [];
    const sources = {
      env: { SSH_AUTH_SOCK: join(home, 'agent.sock') },
      sshConfig: SshConfigFile.load(config, { home }),
      notice: (host: string, message: string) => notes.push(`${host}: ${message}`),
    };
    const [cp, w1, w2, w3] = await resolveTargets(resolveHosts(inventory), sources);
    expect(cp!.endpoint).toMatchObject({ address: '10.0.0.5', port: 2222, user: 'deploy' });
    expect(cp!.privilege.kind).toBe('sudo-passwordless');
    expect(w1!.endpoint).toMatchObject({ address: 'a.corp', port: 2022, user: 'admin' });
    expect(w1!.endpoint.credentials.privateKey?.toString()).toBe('a key file\n');
    expect(w1!.jumps.map((j) => [j.address, j.port, j.user])).toEqual([
      ['192.0.2.1', 22, 'jumper'],
      ['jump2', 2200, 'ops'],
    ]);
    expect(w2!.endpoint.credentials.privateKey?.toString()).toBe('the file key\n');
    expect(w2!.jumps.map((j) => j.address)).toEqual(['192.0.2.99']);
    expect(w3!.endpoint).toMatchObject({
      address: 'db.internal.example',
      hostKeyAlias: 'dbkey',
      knownHostsFiles: [`${dot}/known_db.internal.example`, `${dot}/known_lab2`],
    });
    expect(notes).toEqual([
      `w-3: ${config} says StrictHostKeyChecking no for db; kubestrap checks host keys anyway (pin hostKey or use --accept-new-host-keys)`,
    ]);
    const [, , , chosen] = await resolveTargets(resolveHosts(inventory), { ...sources, knownHostsChosen: true });
    expect(chosen!.endpoint.knownHostsFiles).toBeUndefined();
  });
});
