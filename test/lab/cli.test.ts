/**
 * The CLI against real lab hosts, as an operator runs it: fan-out, failures, host keys, and
 * plan/apply idempotency with /etc checksums.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/load.js';
import { resolveHosts } from '../../src/inventory/resolve.js';
import { RunLog } from '../../src/log/run-log.js';
import { resolveTargets } from '../../src/transport/credentials.js';
import { HostKeyPolicy } from '../../src/transport/host-keys.js';
import { runEngine } from '../../src/workflow/engine.js';
import type { WorkflowEvent } from '../../src/workflow/events.js';
import type { Phase } from '../../src/kit/phase.js';
import { overSsh } from '../../src/workflow/runner.js';
import { runCli, tempDir, WITHOUT_PACKAGES, writeLabInventory } from './helpers.js';
import { startLab, type Lab, type LabHost } from './lab.js';
import { readReport } from './report.js';

const FANOUT_HOSTS = 22;
let lab: Lab;

beforeAll(async () => {
  lab = await startLab({ hosts: FANOUT_HOSTS, prefix: 'fan' });
  return () => lab.stop();
});

/** Checksums, modes and owners of every file under /etc, to prove a command changed nothing. */
function etcFingerprint(host: LabHost): string {
  return lab.inside(
    host,
    "find /etc -xdev \\( -type f -o -type l \\) -exec stat -c '%n %a %U:%G %s %Y' {} + | sort; find /etc -xdev -type f -exec sha256sum {} + | sort",
  );
}

describe('fan-out', () => {
  it(`runs one command on ${FANOUT_HOSTS} hosts and collects every result`, async () => {
    const inventory = writeLabInventory(lab);
    const r = await runCli(['exec', '-i', inventory, '--', 'echo "$(hostname) $(id -u)"']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').sort();
    expect(lines).toEqual(lab.hosts.map((h) => `${h.name}: ${h.name} 0`).sort());
    expect(r.stderr).toContain(`${FANOUT_HOSTS} of ${FANOUT_HOSTS} hosts ok`);
  });

  it('one unreachable host gets a clear error, the others complete, the exit code is non-zero', async () => {
    const dead = { name: 'ghost', address: `10.77.${lab.id}.250`, roles: ['worker'] };
    const inventory = writeLabInventory(lab, { extraHosts: [dead] });
    const r = await runCli(['exec', '-i', inventory, '--', 'hostname']);
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n')).toHaveLength(FANOUT_HOSTS);
    expect(r.stderr).toMatch(/ghost\s+unreachable/);
    expect(r.stderr).toMatch(
      new RegExp(
        `ghost \\(unreachable in connect\\):\\n\\s+ghost \\(root@10\\.77\\.${lab.id}\\.250:22\\): (no SSH answer within 5 s|host unreachable)`,
      ),
    );
    expect(r.stderr).toContain(`${FANOUT_HOSTS} of ${FANOUT_HOSTS + 1} hosts ok`);
  });

  it('works as a non-root user through sudo with a password from the environment', async () => {
    const inventory = writeLabInventory(lab, { user: 'ops' });
    const r = await runCli(['exec', '-i', inventory, '--hosts', `${lab.hosts[0]!.name},${lab.hosts[1]!.name}`, '--', 'id -u; whoami']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${lab.hosts[0]!.name}: root`);
    const missing = await runCli(['exec', '-i', inventory, '--', 'true'], { KUBESTRAP_LAB_SUDO_PASSWORD: '' });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('environment variable KUBESTRAP_LAB_SUDO_PASSWORD is not set');
  });
});

describe('host keys from the command line', () => {
  it('refuses unknown keys with their fingerprints, records them with --accept-new-host-keys, then trusts them', async () => {
    const knownHosts = join(tempDir('kh'), 'known_hosts');
    const inventory = writeLabInventory(lab, { pinHostKeys: false, knownHostsFile: knownHosts });
    const two = `${lab.hosts[0]!.name},${lab.hosts[1]!.name}`;
    const refused = await runCli(['exec', '-i', inventory, '--hosts', two, '--', 'true']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`unknown host key ${lab.hosts[0]!.hostKey}`);
    expect(refused.stderr).toContain(`unknown host key ${lab.hosts[1]!.hostKey}`);
    const accepted = await runCli(['exec', '-i', inventory, '--hosts', two, '--accept-new-host-keys', '--', 'true']);
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(readFileSync(knownHosts, 'utf8').trim().split('\n')).toHaveLength(2);
    const again = await runCli(['exec', '-i', inventory, '--hosts', two, '--', 'true']);
    expect(again.code, again.stderr).toBe(0);
  });
});

describe('plan and apply', () => {
  it('plan changes nothing on any host; apply converges; a second apply and plan report zero changes', async () => {
    const hosts = lab.hosts.slice(0, 3);
    const names = hosts.map((h) => h.name).join(',');
    const dir = tempDir('plan');
    const inventory = writeLabInventory(lab, {}, dir);
    const before = hosts.map(etcFingerprint);

    // the command on the lab's hosts, its report written to dir/REPORT
    const run = (command: 'plan' | 'apply', report: string) =>
      runCli([command, '-i', inventory, ...WITHOUT_PACKAGES, '--hosts', names, '--output', 'plain', '--report', join(dir, report)]);
    const plan = await run('plan', 'plan.json');
    expect(plan.code, plan.stderr).toBe(0);
    const planned = readReport(join(dir, 'plan.json'));
    expect(planned.hosts.every((h) => h.changes.length > 0)).toBe(true);
    expect(hosts.map(etcFingerprint)).toEqual(before);

    const apply = await run('apply', 'apply.json');
    expect(apply.code, apply.stdout + apply.stderr).toBe(0);
    const applied = readReport(join(dir, 'apply.json'));
    expect(applied.hosts.map((h) => h.changes.length)).toEqual(planned.hosts.map((h) => h.changes.length));

    const second = await run('apply', 'apply2.json');
    expect(second.code).toBe(0);
    const secondReport = readReport(join(dir, 'apply2.json'));
    expect(secondReport.hosts.map((h) => [h.name, h.changes])).toEqual(hosts.map((h) => [h.name, []]));
    const replan = await runCli(['plan', '-i', inventory, ...WITHOUT_PACKAGES, '--hosts', names, '--output', 'plain']);
    expect(replan.stdout).toContain('Plan: no changes.');
  });

  it('every line of the plain progress output names its host', async () => {
    const inventory = writeLabInventory(lab);
    const names = [lab.hosts[3]!.name, lab.hosts[4]!.name];
    const r = await runCli(['plan', '-i', inventory, ...WITHOUT_PACKAGES, '--hosts', names.join(','), '--output', 'plain']);
    const progress = r.stdout.split('\n').filter((l) => /^[✔✖]/.test(l) && !/^✔ [a-z-]+: /.test(l.replace(/\[.*\]$/, '')));
    expect(progress.length).toBeGreaterThan(0);
    for (const line of progress) expect(line).toMatch(new RegExp(names.join('|')));
  });

  it('a log file records every remote command, with no secret in it', async () => {
    const dir = tempDir('log');
    const inventory = writeLabInventory(lab, { user: 'ops' });
    const file = join(dir, 'run.log');
    const r = await runCli([
      'plan',
      '-i',
      inventory,
      ...WITHOUT_PACKAGES,
      '--hosts',
      lab.hosts[5]!.name,
      '--output',
      'silent',
      '--log-file',
      file,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const log = readFileSync(file, 'utf8');
    expect(log).toContain('/proc/sys/net/ipv4/ip_forward');
    expect(log).toMatch(/exit 0 in \d+ ms/);
    expect(log).not.toContain(process.env.KUBESTRAP_LAB_OPS_PASSWORD ?? 'lab-ops-sudo');
  });

  it('refuses an unknown phase name before touching any host', async () => {
    const inventory = writeLabInventory(lab);
    const r = await runCli(['apply', '-i', inventory, '--only', 'sysctl,sysctll']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown phase sysctll; phases are:');
  });
});

describe('the workflow engine without a renderer, and --output json', () => {
  it('drives real phases on three hosts and tells each step as an event: a host that fails drops out of the next phase; the others go on', async () => {
    const hosts = lab.hosts.slice(0, 3);
    const [, failing] = hosts as [LabHost, LabHost, LabHost];
    const file = writeLabInventory(lab);
    const loaded = await loadInventory(file);
    const targets = (await resolveTargets(resolveHosts(loaded.inventory), { env: process.env })).filter((t) =>
      hosts.some((h) => h.name === t.host.name),
    );
    const marker = (name: string): Phase<null> => ({
      name,
      title: `writes /tmp/engine-${name}`,
      description: 'a real change over SSH, failing on one host in the first phase',
      plan: async () => ({ changes: [{ target: `/tmp/engine-${name}`, summary: 'create', payload: null }] }),
      apply: async (_ctx, target) => {
        if (name === 'first' && target.spec.name === failing.name) throw new Error('refused on purpose');
        await target.host.check(`touch /tmp/engine-${name}`);
      },
    });
    const events: WorkflowEvent[] = [];
    const connect = {
      hostKeys: new HostKeyPolicy({ knownHostsFile: join(tempDir('kh'), 'known_hosts'), acceptNew: true }),
      connectTimeoutMs: 5000,
      log: RunLog.disabled(),
    };
    const result = await runEngine(loaded.inventory, targets, [marker('first') as Phase, marker('second') as Phase], {
      mode: 'apply',
      concurrency: 2,
      log: RunLog.disabled(),
      open: overSsh(connect),
      listener: (e) => events.push(e),
    });
    await Promise.all(result.connected.map((t) => t.host.close()));

    expect(events[0]).toMatchObject({
      type: 'run-start',
      mode: 'apply',
      hosts: hosts.map((h) => h.name),
      stages: [{ name: 'connect' }, { name: 'read' }, { name: 'first' }, { name: 'second' }],
    });
    expect(events.at(-1)).toMatchObject({ type: 'run-done', ok: false });
    expect(events.map((e) => e.at)).toEqual([...events.map((e) => e.at)].sort((a, b) => a - b));
    const of = (stage: string, type: WorkflowEvent['type']) => events.filter((e) => e.type === type && 'stage' in e && e.stage === stage);
    expect(of('first', 'host-failed')).toMatchObject([{ host: failing.name, error: 'refused on purpose' }]);
    expect(
      of('first', 'host-done')
        .map((e) => 'host' in e && e.host)
        .sort(),
    ).toEqual(
      hosts
        .filter((h) => h !== failing)
        .map((h) => h.name)
        .sort(),
    );
    expect(of('second', 'stage-start')).toMatchObject([{ hosts: hosts.filter((h) => h !== failing).map((h) => h.name) }]);
    expect(of('second', 'host-done')[0]).toMatchObject({ changes: [{ target: '/tmp/engine-second', summary: 'create' }] });
    // every host-start has its end, after it
    for (const start of events.filter((e) => e.type === 'host-start')) {
      const end = events.findIndex(
        (e) =>
          (e.type === 'host-done' || e.type === 'host-failed') &&
          e.stage === (start as { stage: string }).stage &&
          e.host === (start as { host: string }).host,
      );
      expect(end).toBeGreaterThan(events.indexOf(start));
    }
    expect(result.timings.map((t) => t.name)).toEqual(['connect', 'read', 'first', 'second']);
    expect(Object.keys(result.timings[3]!.hosts).sort()).toEqual(
      hosts
        .filter((h) => h !== failing)
        .map((h) => h.name)
        .sort(),
    );
    expect(lab.inside(failing, 'ls /tmp/engine-first /tmp/engine-second 2>/dev/null || true').trim()).toBe('');
    expect(lab.inside(hosts[0]!, 'ls /tmp/engine-first /tmp/engine-second').trim().split('\n')).toEqual([
      '/tmp/engine-first',
      '/tmp/engine-second',
    ]);
  });

  it('--output json: every line of stdout is one JSON object, from run-start to the result that --report writes; the human report goes to stderr', async () => {
    const inventory = writeLabInventory(lab);
    const names = lab.hosts.slice(0, 3).map((h) => h.name);
    const r = await runCli(['plan', '-i', inventory, '--hosts', names.join(','), ...WITHOUT_PACKAGES, '--output', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            type: string;
            stage?: string;
            host?: string;
            hosts?: Array<{ name: string }> | string[];
            timings?: Array<{ name: string }>;
          },
      );
    expect(lines[0]!.type).toBe('run-start');
    expect(lines.at(-2)!.type).toBe('run-done');
    const result = lines.at(-1)!;
    expect(result.type).toBe('result');
    expect((result.hosts as Array<{ name: string }>).map((h) => h.name)).toEqual(names);
    expect(result.timings!.map((t) => t.name)).toContain('sysctl');
    expect(
      lines
        .filter((l) => l.type === 'host-done' && l.stage === 'connect')
        .map((l) => l.host)
        .sort(),
    ).toEqual([...names].sort());
    expect(r.stderr).toContain('Plan: no changes.');
  });
});
