import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../../src/util/poll.js';
import { asError } from '../../src/util/errors.js';
import { RunLog } from '../../src/log/run-log.js';
import { Host } from '../../src/transport/host.js';
import { fingerprint, HostKeyPolicy } from '../../src/transport/host-keys.js';
import { openSsh, SshConnectError } from '../../src/transport/ssh.js';
import { connectTarget } from '../../src/kit/connect.js';
import { endpoint, openLabHost, runCli, tempDir } from './helpers.js';
import { OPS_SUDO_PASSWORD, startLab, type Lab, type LabHost } from './lab.js';

let lab: Lab;
let root: Host;

beforeAll(async () => {
  lab = await startLab({ hosts: 3, prefix: 'tr' });
  root = await openLabHost(lab, lab.hosts[0]!);
});

afterAll(async () => {
  await root?.close();
  await lab?.stop();
});

describe('exec over real SSH', () => {
  it('returns stdout, stderr and the exit code', async () => {
    const r = await root.exec('echo out; echo err >&2; exit 3');
    expect(r).toEqual({ stdout: 'out\n', stderr: 'err\n', code: 3 });
  });

  it('passes stdin and plain environment variables', async () => {
    const r = await root.exec('printf "%s:" "$GREETING"; cat', { stdin: 'from stdin', env: { GREETING: 'hello world' } });
    expect(r.stdout).toBe('hello world:from stdin');
  });

  it('quotes argv for POSIX sh, so hostile arguments arrive verbatim', async () => {
    const args = ["it's", 'a b', '$(id)', '`id`', '"q"', '\\n', ''];
    const r = await root.exec(['printf', '%s|', ...args]);
    expect(r.stdout).toBe(`${args.join('|')}|`);
  });

  it('runs on the host it was opened for', async () => {
    expect((await root.exec('hostname')).stdout.trim()).toBe(lab.hosts[0]!.name);
  });

  it('kills a command that outlives its timeout, on the host too (audit L11)', async () => {
    await expect(root.exec('sleep 37; echo never', { timeoutMs: 300 })).rejects.toThrow(/timed out after 300 ms/);
    expect((await root.exec('echo still usable')).stdout).toBe('still usable\n');
    // the host's own deadline follows kubestrap's by two seconds: the process is gone, not left running as root
    await pollUntil(async () => (await root.exec("pgrep -x sleep -a | grep -c 'sleep 37' || true")).stdout.trim() === '0', {
      timeoutMs: 15_000,
      intervalMs: 500,
      failure: () => 'sleep 37 is still running on the host',
    });
  });
});

describe('sudo', () => {
  it('as a non-root user with a sudo password fed on stdin, never in argv or the log', async () => {
    const dir = tempDir('log');
    const log = new RunLog(join(dir, 'run.log'));
    const ops = await openLabHost(lab, lab.hosts[1]!, 'ops', log);
    try {
      expect((await ops.exec('id -u')).stdout.trim()).toBe('0');
      expect((await ops.exec('id -un', { asLoginUser: true })).stdout.trim()).toBe('ops');
      // a long-running privileged command, while root lists every process's argv
      const running = ops.exec('sleep 2; echo done');
      await new Promise((r) => setTimeout(r, 700));
      const otherRoot = await openLabHost(lab, lab.hosts[1]!);
      const ps = (await otherRoot.exec('ps -eo args')).stdout;
      await otherRoot.close();
      expect(ps).toMatch(/sudo -n -- sh -c/);
      expect(ps).not.toContain(OPS_SUDO_PASSWORD);
      expect((await running).stdout).toBe('done\n');
      // stdin still reaches the command after the shell took the password line
      expect((await ops.exec('cat', { stdin: 'payload' })).stdout).toBe('payload');
    } finally {
      await ops.close();
      await log.close();
    }
    const logText = readFileSync(join(dir, 'run.log'), 'utf8');
    expect(logText).toContain('id -u');
    expect(logText).not.toContain(OPS_SUDO_PASSWORD);
  });

  it('as a user with passwordless sudo', async () => {
    const deploy = await openLabHost(lab, lab.hosts[2]!, 'deploy');
    try {
      expect((await deploy.exec('id -u')).stdout.trim()).toBe('0');
    } finally {
      await deploy.close();
    }
  });

  it('a wrong sudo password is reported without revealing it', async () => {
    const wrong = 'not-the-password';
    const hostKeys = new HostKeyPolicy({ knownHostsFile: join(tempDir('kh'), 'known_hosts'), acceptNew: false });
    const target = {
      host: { index: 1, name: lab.hosts[1]!.name } as never,
      endpoint: endpoint(lab, lab.hosts[1]!, 'ops'),
      jumps: [],
      privilege: { kind: 'sudo-password' as const, password: wrong },
    };
    const error = await connectTarget(target, { hostKeys, connectTimeoutMs: 5000, log: RunLog.disabled() }).then(() => undefined, asError);
    expect(error?.message).toMatch(/cannot become root: sudo rejected the password/);
    expect(error?.message).not.toContain(wrong);
  });
});

describe('files', () => {
  it('writes atomically with the requested mode, even over an existing file, and reads back byte-identical', async () => {
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await root.exec('mkdir -p /etc/kubestrap-test && printf old > /etc/kubestrap-test/key && chmod 644 /etc/kubestrap-test/key');
    await root.writeFiles([
      { path: '/etc/kubestrap-test/key', content: binary, mode: 0o600 },
      { path: '/etc/kubestrap-test/sub/dir/config', content: 'a: 1\n', mode: 0o644 },
    ]);
    const files = await root.readFiles(['/etc/kubestrap-test/key', '/etc/kubestrap-test/sub/dir/config', '/etc/kubestrap-test/absent']);
    expect(files.get('/etc/kubestrap-test/key')).toEqual({ content: binary, mode: 0o600, owner: 'root:root' });
    expect(files.get('/etc/kubestrap-test/sub/dir/config')).toEqual({ content: Buffer.from('a: 1\n'), mode: 0o644, owner: 'root:root' });
    expect(files.get('/etc/kubestrap-test/absent')).toBeUndefined();
    // no temp files left behind
    expect((await root.exec('ls -A /etc/kubestrap-test')).stdout.split('\n').filter(Boolean).sort()).toEqual(['key', 'sub']);
  });

  it('a directory or a symbolic link at a target path is an error, not a silent success; new parent directories are 0755 (audit L6)', async () => {
    await root.exec('mkdir -p /etc/kubestrap-l6/dir-here && ln -sfn /etc/passwd /etc/kubestrap-l6/link-here');
    await expect(root.writeFiles([{ path: '/etc/kubestrap-l6/dir-here', content: 'x', mode: 0o644 }])).rejects.toThrow(
      /dir-here is a directory or a symbolic link, not a file: refusing to replace it/,
    );
    await expect(root.writeFiles([{ path: '/etc/kubestrap-l6/link-here', content: 'x', mode: 0o644 }])).rejects.toThrow(
      /link-here is a directory or a symbolic link/,
    );
    expect((await root.exec('ls -A /etc/kubestrap-l6/dir-here; readlink /etc/kubestrap-l6/link-here')).stdout.trim()).toBe('/etc/passwd');
    await root.writeFiles([{ path: '/etc/kubestrap-l6/new/deeper/file', content: 'x', mode: 0o600 }]);
    expect(
      (await root.exec("stat -c '%a %n' /etc/kubestrap-l6/new /etc/kubestrap-l6/new/deeper /etc/kubestrap-l6/new/deeper/file")).stdout
        .trim()
        .split('\n'),
    ).toEqual(['755 /etc/kubestrap-l6/new', '755 /etc/kubestrap-l6/new/deeper', '600 /etc/kubestrap-l6/new/deeper/file']);
  });

  it('reads a file through a symlink whole, next to other files (the kubelet keeps its client certificate behind one)', async () => {
    await root.exec(
      'mkdir -p /etc/kubestrap-link && printf "%0500d" 7 > /etc/kubestrap-link/target && ln -sf /etc/kubestrap-link/target /etc/kubestrap-link/current && printf after > /etc/kubestrap-link/after',
    );
    const files = await root.readFiles(['/etc/kubestrap-link/current', '/etc/kubestrap-link/after']);
    expect(files.get('/etc/kubestrap-link/current')!.content.toString()).toBe('7'.padStart(500, '0'));
    expect(files.get('/etc/kubestrap-link/after')!.content.toString()).toBe('after');
  });

  it('writes root-owned files as a sudo user and applies an owner', async () => {
    const ops = await openLabHost(lab, lab.hosts[1]!, 'ops');
    try {
      await ops.writeFile('/etc/kubestrap-test-ops.conf', 'secret: value\n', 0o640, 'root:ops');
      const file = (await ops.readFiles(['/etc/kubestrap-test-ops.conf'])).get('/etc/kubestrap-test-ops.conf');
      expect(file).toEqual({ content: Buffer.from('secret: value\n'), mode: 0o640, owner: 'root:ops' });
      expect(await ops.exists('/etc/kubestrap-test-ops.conf')).toBe(true);
      expect(await ops.exists('/etc/nothing-here')).toBe(false);
    } finally {
      await ops.close();
    }
  });
});

describe('port forwarding', () => {
  it("reaches a service on the host's 127.0.0.1", async () => {
    const forward = await root.forward(22);
    try {
      const banner = await new Promise<string>((resolve, reject) => {
        const socket = connect(forward.localPort, '127.0.0.1');
        socket.once('data', (d) => {
          resolve(d.toString());
          socket.destroy();
        });
        socket.once('error', reject);
      });
      expect(banner).toMatch(/^SSH-2\.0-OpenSSH/);
    } finally {
      await forward.close();
    }
  });
});

describe('host keys', () => {
  const target = () => lab.hosts[2]!;

  async function attempt(policy: HostKeyPolicy, pinned?: string): Promise<Error | undefined> {
    try {
      const channel = await openSsh({ ...endpoint(lab, target()), pinnedHostKey: pinned }, { hostKeys: policy, connectTimeoutMs: 5000 });
      await channel.close();
      return undefined;
    } catch (err) {
      return err as Error;
    }
  }

  it('refuses an unknown key, showing its fingerprint and how to trust it', async () => {
    const error = await attempt(new HostKeyPolicy({ knownHostsFile: join(tempDir('kh'), 'known_hosts'), acceptNew: false }));
    expect(error).toBeInstanceOf(SshConnectError);
    expect(error!.message).toContain(`unknown host key ${target().hostKey}`);
    expect(error!.message).toContain('--accept-new-host-keys');
  });

  it('records a new key only when asked, then trusts it', async () => {
    const file = join(tempDir('kh'), 'known_hosts');
    expect(await attempt(new HostKeyPolicy({ knownHostsFile: file, acceptNew: true }))).toBeUndefined();
    expect(readFileSync(file, 'utf8')).toMatch(new RegExp(`^${target().ip.replace(/\./g, '\\.')} ssh-ed25519 `));
    expect(await attempt(new HostKeyPolicy({ knownHostsFile: file, acceptNew: false }))).toBeUndefined();
  });

  it('trusts a hashed known_hosts entry written by ssh-keygen -H', async () => {
    const file = join(tempDir('kh'), 'known_hosts');
    const key = lab.inside(target(), 'cat /etc/ssh/ssh_host_ed25519_key.pub').trim().split(/\s+/).slice(0, 2).join(' ');
    writeFileSync(file, `${target().ip} ${key}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    expect(readFileSync(file, 'utf8')).toMatch(/^\|1\|/);
    expect(await attempt(new HostKeyPolicy({ knownHostsFile: file, acceptNew: false }))).toBeUndefined();
  });

  it('always refuses a changed key, even with --accept-new-host-keys, showing both fingerprints', async () => {
    const file = join(tempDir('kh'), 'known_hosts');
    const otherKey = lab.inside(lab.hosts[0]!, 'cat /etc/ssh/ssh_host_ed25519_key.pub').trim().split(/\s+/).slice(0, 2).join(' ');
    writeFileSync(file, `${target().ip} ${otherKey}\n`);
    const error = await attempt(new HostKeyPolicy({ knownHostsFile: file, acceptNew: true }));
    expect(error!.message).toContain('HOST KEY CHANGED');
    expect(error!.message).toContain(lab.hosts[0]!.hostKey);
    expect(error!.message).toContain(target().hostKey);
  });

  it('refuses a key that differs from the pinned fingerprint', async () => {
    const error = await attempt(
      new HostKeyPolicy({ knownHostsFile: join(tempDir('kh'), 'known_hosts'), acceptNew: true }),
      lab.hosts[0]!.hostKey,
    );
    expect(error!.message).toContain('does not match the pinned fingerprint');
    expect(error!.message).toContain(`pinned in inventory: ${lab.hosts[0]!.hostKey}`);
    expect(error!.message).toContain(`presented (ssh-ed25519): ${target().hostKey}`);
  });

  it('computes fingerprints exactly like ssh-keygen -lf', async () => {
    const pub = lab.inside(target(), 'cat /etc/ssh/ssh_host_ed25519_key.pub').trim().split(/\s+/)[1]!;
    expect(fingerprint(Buffer.from(pub, 'base64'))).toBe(target().hostKey);
  });
});

describe('jump host and password login', () => {
  it('reaches a host through a bastion', async () => {
    const policy = new HostKeyPolicy({ knownHostsFile: join(tempDir('kh'), 'known_hosts'), acceptNew: false });
    const channel = await openSsh(endpoint(lab, lab.hosts[2]!), {
      hostKeys: policy,
      connectTimeoutMs: 5000,
      jumps: [endpoint(lab, lab.hosts[0]!)],
    });
    const host = new Host(lab.hosts[2]!.name, channel, { kind: 'root' }, RunLog.disabled());
    try {
      // sshd sees the connection coming from the bastion, not from the workstation
      const from = (await host.exec('echo $SSH_CONNECTION')).stdout.split(' ')[0];
      expect(from).toBe(lab.hosts[0]!.ip);
      expect((await host.exec('hostname')).stdout.trim()).toBe(lab.hosts[2]!.name);
    } finally {
      await host.close();
    }
  });

  it("reaches a host known only by a ~/.ssh/config alias, through a ProxyJump chain of two aliases; the file's UserKnownHostsFile gets every hop's key; its StrictHostKeyChecking no is named and not followed", async () => {
    const [first, second, target] = lab.hosts as [LabHost, LabHost, LabHost];
    const dir = tempDir('ssh-config');
    const knownHosts = join(dir, 'known_hosts_lab');
    const config = join(dir, 'config');
    writeFileSync(
      config,
      [
        'Host lab-target',
        `  HostName ${target.ip}`,
        '  ProxyJump hop-a,hop-b',
        '  StrictHostKeyChecking no',
        'Host hop-a',
        `  HostName ${first.ip}`,
        'Host hop-b',
        `  HostName ${second.ip}`,
        'Host *',
        '  User root',
        `  IdentityFile ${lab.clientKey}`,
        '  IdentitiesOnly yes',
        `  UserKnownHostsFile ${knownHosts}`,
        '',
      ].join('\n'),
    );
    const inventory = join(dir, 'inventory.yaml');
    // the inventory names the alias only: address, login, key, jumps and known_hosts all come from the file
    writeFileSync(
      inventory,
      [
        'apiVersion: kubestrap.dev/v1alpha1',
        'kind: Cluster',
        'hosts:',
        `  - {name: via-alias, address: lab-target, advertiseAddress: ${target.ip}, roles: [control-plane]}`,
        'cluster: {kubernetesVersion: v1.30.0}',
        '',
      ].join('\n'),
    );
    const refused = await runCli([
      'exec',
      '-i',
      inventory,
      '--ssh-config',
      config,
      '--output',
      'plain',
      '--',
      'echo $SSH_CONNECTION; hostname',
    ]);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toMatch(/unknown host key .* refusing to connect/);
    expect(refused.stderr).toContain(
      `note: via-alias: ${config} says StrictHostKeyChecking no for lab-target; kubestrap checks host keys anyway`,
    );

    const run = await runCli([
      'exec',
      '-i',
      inventory,
      '--ssh-config',
      config,
      '--accept-new-host-keys',
      '--output',
      'plain',
      '--',
      'echo $SSH_CONNECTION; hostname',
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    // sshd on the target sees the connection coming from the last hop
    expect(run.stdout).toContain(`${second.ip} `);
    expect(run.stdout).toContain(target.name);
    const recorded = readFileSync(knownHosts, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' ')[0]);
    expect(recorded.sort()).toEqual([first.ip, second.ip, target.ip].sort());
    const again = await runCli(['exec', '-i', inventory, '--ssh-config', config, '--output', 'plain', '--', 'hostname']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
  });

  it('logs in with a password', async () => {
    const policy = new HostKeyPolicy({ knownHostsFile: join(tempDir('kh'), 'known_hosts'), acceptNew: false });
    const ep = { ...endpoint(lab, lab.hosts[1]!, 'ops'), credentials: { password: OPS_SUDO_PASSWORD } };
    const channel = await openSsh(ep, { hostKeys: policy, connectTimeoutMs: 5000 });
    const out = await channel.run('id -un', {});
    await channel.close();
    expect(out.stdout.toString().trim()).toBe('ops');
  });

  it('logs in with a passphrase-protected key and with an ssh-agent', async () => {
    const dir = tempDir('keys');
    const key = join(dir, 'id_pass');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'correct horse', '-f', key]);
    lab.inside(lab.hosts[2]!, `cat >> /root/.ssh/authorized_keys <<'K'\n${readFileSync(`${key}.pub`, 'utf8')}K`);
    const policy = new HostKeyPolicy({ knownHostsFile: join(dir, 'known_hosts'), acceptNew: false });
    const withPassphrase = { ...endpoint(lab, lab.hosts[2]!), credentials: { privateKey: readFileSync(key), passphrase: 'correct horse' } };
    const channel = await openSsh(withPassphrase, { hostKeys: policy, connectTimeoutMs: 5000 });
    expect((await channel.run('id -un', {})).stdout.toString().trim()).toBe('root');
    await channel.close();
    const wrong = { ...withPassphrase, credentials: { privateKey: readFileSync(key), passphrase: 'wrong' } };
    await expect(openSsh(wrong, { hostKeys: policy, connectTimeoutMs: 5000 })).rejects.toThrow(/bad passphrase/);

    const socket = join(dir, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 50 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
      execFileSync('ssh-add', ['-q', lab.clientKey], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'ignore' });
      const viaAgent = { ...endpoint(lab, lab.hosts[2]!), credentials: { agent: socket } };
      const agentChannel = await openSsh(viaAgent, { hostKeys: policy, connectTimeoutMs: 5000 });
      expect((await agentChannel.run('hostname', {})).stdout.toString().trim()).toBe(lab.hosts[2]!.name);
      await agentChannel.close();
    } finally {
      agent.kill();
    }
  });

  it('names the methods when authentication fails', async () => {
    const policy = new HostKeyPolicy({ knownHostsFile: join(tempDir('kh'), 'known_hosts'), acceptNew: false });
    const ep = { ...endpoint(lab, lab.hosts[1]!, 'ops'), credentials: { password: 'wrong-password' } };
    await expect(openSsh(ep, { hostKeys: policy, connectTimeoutMs: 5000 })).rejects.toThrow(/authentication failed .*\(password\)/);
  });
});
