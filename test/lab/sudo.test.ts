/**
 * H1: a sudo password given for a host whose sudo does not ask for one (a NOPASSWD rule, or a
 * root login) must never reach a command's input, a file or argv. Over real SSH on lab hosts:
 * the deploy user has `NOPASSWD: ALL`, ops a password-asking sudo, root needs none.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Host } from '../../src/transport/host.js';
import { HostKeyPolicy } from '../../src/transport/host-keys.js';
import { openSsh } from '../../src/transport/ssh.js';
import { RunLog } from '../../src/log/run-log.js';
import { endpoint, runCli, tempDir, WITHOUT_PACKAGES, writeLabInventory } from './helpers.js';
import { OPS_SUDO_PASSWORD, startLab, type Lab } from './lab.js';

const PASSWORD = 'H1-sudo-Secret-7f3';
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

let lab: Lab;

beforeAll(async () => {
  lab = await startLab({ hosts: 2, prefix: 'sudo' });
  return () => lab.stop();
});

/** A Host with the password privilege forced, whatever the host's sudo does (no connect-time detection). */
async function forcedPasswordHost(user: string, password: string): Promise<Host> {
  const policy = new HostKeyPolicy({ knownHostsFile: join(tempDir('kh'), 'known_hosts'), acceptNew: false });
  const channel = await openSsh(endpoint(lab, lab.hosts[0]!, user), { hostKeys: policy, connectTimeoutMs: 5000 });
  return new Host(lab.hosts[0]!.name, channel, { kind: 'sudo-password', password }, RunLog.disabled());
}

/** Each host's sysctl and module files are byte for byte what `render` writes for the inventory: nothing shifted or prefixed. */
async function expectRenderedFiles(inventory: string, dir: string): Promise<void> {
  const rendered = await runCli(['render', '-i', inventory, '--out', join(dir, 'out')]);
  expect(rendered.code, rendered.stderr).toBe(0);
  for (const host of lab.hosts) {
    for (const path of ['/etc/sysctl.d/kubernetes.conf', '/etc/modules-load.d/kubernetes.conf']) {
      expect(lab.inside(host, `sha256sum ${path}`).split(' ')[0], `${host.name}:${path}`).toBe(
        sha256(readFileSync(join(dir, 'out', host.name, path))),
      );
    }
  }
}

describe('sudo password (H1)', () => {
  it('a batch of files written with a password to a NOPASSWD sudo arrives byte for byte, and the password in none of them', async () => {
    const host = await forcedPasswordHost('deploy', PASSWORD);
    const files = [
      { path: '/etc/kubestrap-h1/first.conf', content: 'first file\n', mode: 0o644 },
      { path: '/etc/kubestrap-h1/key.pem', content: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', mode: 0o600 },
      { path: '/etc/kubestrap-h1/third.yaml', content: 'a: 1\nb: 2\n', mode: 0o644 },
    ];
    try {
      await host.writeFiles(files);
      expect((await host.exec('cat', { stdin: 'stdin intact' })).stdout).toBe('stdin intact');
    } finally {
      await host.close();
    }
    for (const f of files) expect(lab.inside(lab.hosts[0]!, `sha256sum ${f.path}`).split(' ')[0]).toBe(sha256(f.content));
    expect(lab.inside(lab.hosts[0]!, `grep -rl ${PASSWORD} /etc /root /home /tmp /var/tmp 2>/dev/null || true`).trim()).toBe('');
  });

  it('a password-asking sudo still gets its password (ops), with stdin intact; a wrong one is named as such', async () => {
    const ops = await forcedPasswordHost('ops', OPS_SUDO_PASSWORD);
    try {
      expect((await ops.exec('id -u')).stdout.trim()).toBe('0');
      await ops.writeFiles([{ path: '/etc/kubestrap-h1/ops.conf', content: 'ops\n', mode: 0o644 }]);
      expect((await ops.exec('cat', { stdin: 'payload' })).stdout).toBe('payload');
    } finally {
      await ops.close();
    }
    expect(lab.inside(lab.hosts[0]!, 'cat /etc/kubestrap-h1/ops.conf')).toBe('ops\n');
    const wrong = await forcedPasswordHost('ops', 'not-the-password');
    try {
      expect((await wrong.exec('id -u')).code).toBe(125);
    } finally {
      await wrong.close();
    }
  });

  it('apply with sudo.mode: password for the NOPASSWD user writes exactly the rendered files, and the password reaches no file', async () => {
    const dir = tempDir('sudo-apply');
    const inventory = writeLabInventory(lab, { user: 'deploy' }, dir);
    const text = readFileSync(inventory, 'utf8').replace(
      '  user: deploy\n',
      '  user: deploy\n  sudo:\n    mode: password\n    passwordEnv: H1_SUDO_PASSWORD\n',
    );
    const withSudo = join(dir, 'with-sudo.yaml');
    writeFileSync(withSudo, text);
    const r = await runCli(['apply', '-i', withSudo, ...WITHOUT_PACKAGES, '--output', 'plain'], { H1_SUDO_PASSWORD: PASSWORD });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await expectRenderedFiles(withSudo, dir);
    for (const host of lab.hosts)
      expect(lab.inside(host, `grep -rl ${PASSWORD} /etc /root /home /tmp /var 2>/dev/null || true`).trim(), host.name).toBe('');
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  });

  it('a sudo password ending in a newline (a secret mounted from a file) writes every file byte for byte; one of two lines is refused before any host is touched (R2-L2)', async () => {
    const dir = tempDir('sudo-newline');
    // the lab inventory of the ops user reads its sudo password from KUBESTRAP_LAB_SUDO_PASSWORD
    const withSudo = writeLabInventory(lab, { user: 'ops' }, dir);
    const r = await runCli(['apply', '-i', withSudo, ...WITHOUT_PACKAGES, '--output', 'plain'], {
      KUBESTRAP_LAB_SUDO_PASSWORD: `${OPS_SUDO_PASSWORD}\n`,
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await expectRenderedFiles(withSudo, dir);
    const twoLines = await runCli(['apply', '-i', withSudo, ...WITHOUT_PACKAGES, '--output', 'plain'], {
      KUBESTRAP_LAB_SUDO_PASSWORD: `${OPS_SUDO_PASSWORD}\nsecond-line`,
    });
    expect(twoLines.code).not.toBe(0);
    expect(twoLines.stdout + twoLines.stderr).toMatch(
      /sudo\.passwordEnv: the value of KUBESTRAP_LAB_SUDO_PASSWORD holds a line break or a NUL byte; sudo takes a password of one line/,
    );
    expect(twoLines.stdout + twoLines.stderr).not.toMatch(/second-line/);
    expect(twoLines.stdout).not.toMatch(/connect/);
  });

  it('validate refuses sudo.mode: password for a root login, naming the field', async () => {
    const dir = tempDir('sudo-root');
    const inventory = writeLabInventory(lab, {}, dir);
    const text = readFileSync(inventory, 'utf8').replace(
      '  user: root\n',
      '  user: root\n  sudo:\n    mode: password\n    passwordEnv: H1_SUDO_PASSWORD\n',
    );
    writeFileSync(inventory, text);
    const r = await runCli(['validate', '-i', inventory], { H1_SUDO_PASSWORD: PASSWORD });
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/hostDefaults\.sudo\.mode.*logs in as root, which needs no sudo password: use sudo\.mode: none/);
  });
});
