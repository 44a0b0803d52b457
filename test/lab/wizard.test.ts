/**
 * `kubestrap init` driven in a real terminal (tmux) against lab hosts: wrong answers are
 * re-asked with the reason, host keys are shown and pinned, the inventory validates and plans;
 * the answers-file mode writes the same file; no terminal and Ctrl-C are handled.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir, WITHOUT_PACKAGES } from './helpers.js';
import { startLab, type Lab } from './lab.js';

const SESSION = `kubestrap-wizard-${process.pid}`;

/** A terminal running one command, read from and typed into through tmux. */
class Terminal {
  constructor(command: string) {
    execFileSync('tmux', [
      'new-session',
      '-d',
      '-s',
      SESSION,
      '-x',
      '200',
      '-y',
      '60',
      `cd ${process.cwd()} && ${command}; echo EXIT=$?; sleep 600`,
    ]);
  }
  screen(): string {
    return execFileSync('tmux', ['capture-pane', '-p', '-J', '-S', '-200', '-t', SESSION], { encoding: 'utf8' });
  }
  async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.screen())) {
      if (Date.now() > deadline) throw new Error(`terminal never showed ${pattern}; screen:\n${this.screen()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  /** Waits for the active prompt (enquirer marks it with `?`, answered ones with ✔), then answers it. */
  async answer(prompt: RegExp, ...keys: string[]): Promise<void> {
    await this.fix(new RegExp(`^\\? .*${prompt.source}`, 'm'), ...keys);
  }
  /** Waits for any text (e.g. the reason an answer was refused), then types. */
  async fix(text: RegExp, ...keys: string[]): Promise<void> {
    await this.waitFor(text);
    await new Promise((r) => setTimeout(r, 150));
    for (const key of keys)
      execFileSync('tmux', ['send-keys', '-t', SESSION, ...(/^(Enter|Down|BSpace|C-c)$/.test(key) ? [key] : ['-l', key])]);
  }
  clear(n = 40): string[] {
    return Array<string>(n).fill('BSpace');
  }
  close(): void {
    execFileSync('tmux', ['kill-session', '-t', SESSION], { stdio: 'ignore' });
  }
}

let lab: Lab;

beforeAll(async () => {
  lab = await startLab({ hosts: 2, prefix: 'wiz' });
  return () => lab.stop();
});

describe('kubestrap init', () => {
  it('asks, re-asks wrong answers with the reason, pins trusted host keys and writes a valid inventory', async () => {
    const dir = tempDir('wizard');
    const out = join(dir, 'cluster.yaml');
    const [one, two] = lab.hosts as [Lab['hosts'][0], Lab['hosts'][0]];
    const t = new Terminal(`node bin/kubestrap.js init -o ${out}`);
    const key = [...t.clear(25), lab.clientKey, 'Enter'];
    try {
      await t.answer(/Cluster name/, 'Enter');
      await t.answer(/Kubernetes version/, 'Down', 'Enter');
      // after the address: default name, user and login method, the lab key, the default role
      const rest = async () => {
        for (const prompt of [/Node name/, /SSH user/, /Log in with/]) await t.answer(prompt, 'Enter');
        await t.answer(/Private key file/, ...key);
        await t.answer(/Roles/, 'Enter');
      };
      await t.answer(/Host 1: address/, `10.77.${lab.id}.300`, 'Enter');
      await t.fix(/is not a valid IP address/, ...t.clear(20), one.ip, 'Enter');
      await rest();
      // the host key is shown; refusing it asks for the host again
      await t.answer(new RegExp(`presents ssh-ed25519 key ${one.hostKey.replace(/[+/]/g, '\\$&')}`), 'n');
      await t.waitFor(/you did not trust its host key/);
      await t.answer(/Host 1: address/, one.ip, 'Enter');
      await rest();
      await t.answer(/Trust it/, 'y');
      await t.answer(/Add another host/, 'y');
      // an unreachable host is reported and asked again
      await t.answer(/Host 2: address/, `10.77.${lab.id}.250`, 'Enter');
      await rest();
      await t.waitFor(/let's try this host again/, 30_000);
      await t.answer(/Host 2: address/, two.ip, 'Enter');
      await rest();
      await t.answer(new RegExp(`presents ssh-ed25519 key ${two.hostKey.replace(/[+/]/g, '\\$&')}`), 'y');
      await t.answer(/Add another host/, 'n');
      // the lab's hosts are cgroup v1, and the version chosen (the second offered) refuses it
      await t.answer(/use cgroup v1, which the v1\.36\.\d+ kubelet refuses\. Keep them on cgroup v1 for now/, 'Enter');
      await t.answer(/Control-plane endpoint/, 'Enter');
      // networks are checked against each other and the hosts, and asked again
      await t.answer(/Pod subnet/, ...t.clear(20), '10.77.0.0/16', 'Enter');
      await t.fix(/lies inside 10\.77\.0\.0\/16/, ...t.clear(20), '10.244.0.0/16', 'Enter');
      await t.answer(/Service subnet/, ...t.clear(20), '10.240.0.0/12', 'Enter');
      await t.fix(/overlaps the pod subnet 10\.244\.0\.0\/16/, ...t.clear(20), '10.96.0.0/12', 'Enter');
      await t.answer(/kube-proxy mode/, 'Enter');
      await t.answer(/Pod network/, 'Enter');
      await t.answer(/Images and packages from/, 'Down', 'Enter');
      await t.answer(/cgroup driver/, 'Enter');
      await t.answer(/Run the preflight checks/, 'n');
      await t.waitFor(/EXIT=0/);
    } finally {
      t.close();
    }
    const text = readFileSync(out, 'utf8');
    expect(text).toContain(`hostKey: ${one.hostKey}`);
    expect(text).toContain(`hostKey: ${two.hostKey}`);
    expect(text).toContain('imageRepository: registry.cn-hangzhou.aliyuncs.com/google_containers');
    expect(text).toMatch(/^# The machines\./m);
    expect(text).toMatch(/^ {2}kubelet:\n {4}failCgroupV1: false$/m);
    expect((await runCli(['validate', '-i', out])).code).toBe(0);
    const plan = await runCli(['plan', '-i', out, ...WITHOUT_PACKAGES, '--output', 'silent']);
    expect(plan.code, plan.stdout).toBe(0);

    // the same answers from a file give the same inventory
    const answers = join(dir, 'answers.yaml');
    writeFileSync(
      answers,
      stringify({
        kubernetesVersion: 'v1.36.1',
        keepCgroupV1: true,
        hosts: [
          {
            name: 'node-1',
            address: one.ip,
            user: 'root',
            auth: { keyPath: lab.clientKey },
            hostKey: one.hostKey,
            roles: ['control-plane'],
          },
          { name: 'node-2', address: two.ip, user: 'root', auth: { keyPath: lab.clientKey }, hostKey: two.hostKey, roles: ['worker'] },
        ],
        mirrorProfile: 'china',
      }),
    );
    const scripted = join(dir, 'scripted.yaml');
    const r = await runCli(['init', '-o', scripted, '--answers', answers]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(scripted, 'utf8')).toBe(text);
    // flags answer too, and win over the file
    const flagged = join(dir, 'flagged.yaml');
    const withFlags = await runCli([
      'init',
      '-o',
      flagged,
      '--answers',
      answers,
      '--kubernetes-version',
      'v1.30.13',
      '--kube-proxy-mode',
      'iptables',
      '--pod-subnet',
      '172.168.0.0/16',
    ]);
    expect(withFlags.code, withFlags.stderr).toBe(0);
    expect(readFileSync(flagged, 'utf8')).toBe(
      text
        .replace('v1.36.1', 'v1.30.13')
        .replace('mode: ipvs', 'mode: iptables')
        .replace('podSubnet: 10.244.0.0/16', 'podSubnet: 172.168.0.0/16'),
    );
    const refused = await runCli(['init', '-o', scripted, '--answers', answers]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('exists; add --force');
  });

  it('without a terminal and without answers, exits at once naming the flags', async () => {
    const started = Date.now();
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['bin/kubestrap.js', 'init', '-o', join(tempDir('notty'), 'x.yaml')], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.on('close', (code) => {
        clearTimeout(killer);
        resolve({ code, stderr });
      });
    });
    console.log(`init without a terminal exited after ${Date.now() - started} ms`);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--answers');
  });

  it('does not ask what flags answered; Ctrl-C leaves no file behind', async () => {
    const out = join(tempDir('ctrlc'), 'cluster.yaml');
    const t = new Terminal(`node bin/kubestrap.js init -o ${out} --cluster-name lab --kubernetes-version v1.30.13`);
    try {
      await t.answer(/Host 1: address/, 'C-c');
      expect(t.screen()).not.toMatch(/Cluster name|Kubernetes version/);
      await t.waitFor(/aborted; nothing was written/);
      await t.waitFor(/EXIT=130/);
    } finally {
      t.close();
    }
    expect(existsSync(out)).toBe(false);
  });
});
