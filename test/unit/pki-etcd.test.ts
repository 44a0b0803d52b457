/**
 * The generated etcd certificates against a real etcd (Debian etcd-server 3.4) with client
 * certificate authentication on: kubeadm's two etcd clients are admitted, a client from another
 * cluster's CA is refused.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdTlsFlags, freePort, generatedPki } from './real-etcd.js';
import { tempDir } from '../lab/helpers.js';

let etcd: ChildProcess;
let pki: string;
let otherPki: string;
let clientUrl: string;
let etcdLog = '';

beforeAll(async () => {
  const dir = tempDir('etcd');
  pki = generatedPki(dir);
  otherPki = generatedPki(tempDir('etcd-other'));
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  clientUrl = `https://127.0.0.1:${clientPort}`;
  const peerUrl = `https://127.0.0.1:${peerPort}`;
  // the flags kubeadm gives etcd (kubeadm-spec §4.8), on loopback ports
  etcd = spawn(
    'etcd',
    [
      '--name=etcd-node',
      `--data-dir=${join(dir, 'data')}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=etcd-node=${peerUrl}`,
      ...etcdTlsFlags(pki),
      '--snapshot-count=10000',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  etcd.stderr!.on('data', (d: Buffer) => (etcdLog += d.toString()));
  for (let i = 0; i < 100; i++) {
    if (health('etcd/healthcheck-client', pki).code === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('etcd did not become healthy');
}, 60_000);

afterAll(() => {
  etcd?.kill('SIGKILL');
});

function health(client: string, from: string): { code: number; output: string } {
  const r = spawnSync(
    'etcdctl',
    [
      `--endpoints=${clientUrl}`,
      `--cacert=${join(pki, 'etcd/ca.crt')}`,
      `--cert=${join(from, `${client}.crt`)}`,
      `--key=${join(from, `${client}.key`)}`,
      '--dial-timeout=3s',
      '--command-timeout=3s',
      'endpoint',
      'health',
    ],
    {
      encoding: 'utf8',
      env: { ...process.env, ETCDCTL_API: '3' },
    },
  );
  return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

describe('real etcd with the generated certificates', () => {
  it('answers a health check made with etcd/healthcheck-client', () => {
    const r = health('etcd/healthcheck-client', pki);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/is healthy/);
  });

  it('answers a health check made with apiserver-etcd-client', () => {
    const r = health('apiserver-etcd-client', pki);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/is healthy/);
  });

  it("streams a snapshot of several MB to disk in pieces, one that Debian's etcdctl reads (audit L10)", async () => {
    const { EtcdClient } = await import('../../src/etcd/client.js');
    const { writeLocalFileFrom } = await import('../../src/util/local-file.js');
    const { readFileSync } = await import('node:fs');
    const client = EtcdClient.direct(clientUrl, {
      ca: readFileSync(join(pki, 'etcd/ca.crt'), 'utf8'),
      cert: readFileSync(join(pki, 'apiserver-etcd-client.crt'), 'utf8'),
      key: readFileSync(join(pki, 'apiserver-etcd-client.key'), 'utf8'),
    });
    // some megabytes of data, so the gateway sends the snapshot as many messages
    const value = Buffer.alloc(1 << 20, 'k').toString('base64');
    for (let i = 0; i < 6; i++)
      await (client as unknown as { call(p: string, b: unknown): Promise<unknown> }).call('/v3/kv/put', {
        key: Buffer.from(`big-${i}`).toString('base64'),
        value,
      });
    const file = join(tempDir('snap'), 'snapshot.db');
    let pieces = 0;
    let bytes = 0;
    await writeLocalFileFrom(file, 0o600, async (write) => {
      bytes = await client.snapshot((blob) => {
        pieces++;
        write(blob);
      });
    });
    await client.close();
    expect(pieces).toBeGreaterThan(10);
    expect(bytes).toBeGreaterThan(6 << 20);
    const status = spawnSync('etcdctl', ['snapshot', 'status', file, '-w', 'json'], {
      encoding: 'utf8',
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    expect(status.status, status.stderr).toBe(0);
    expect((JSON.parse(status.stdout) as { totalKey: number }).totalKey).toBeGreaterThanOrEqual(6);
  });

  it('refuses a client certificate issued by a different CA, in the TLS handshake', async () => {
    const r = health('etcd/healthcheck-client', otherPki);
    expect(r.code, r.output).not.toBe(0);
    expect(r.output).toMatch(/is unhealthy/);
    // curl shows the handshake failing, and etcd's log says why it rejected the client
    const tls = spawnSync(
      'curl',
      [
        '-sS',
        '--cacert',
        join(pki, 'etcd/ca.crt'),
        '--cert',
        join(otherPki, 'etcd/healthcheck-client.crt'),
        '--key',
        join(otherPki, 'etcd/healthcheck-client.key'),
        `${clientUrl}/health`,
      ],
      { encoding: 'utf8' },
    );
    expect(tls.status).not.toBe(0);
    // spawnSync blocked the event loop: let etcd's log lines arrive
    for (let i = 0; i < 50 && !/rejected connection/.test(etcdLog); i++) await new Promise((r) => setTimeout(r, 100));
    expect(etcdLog).toMatch(/rejected connection .*certificate signed by unknown authority/);
    const ok = spawnSync(
      'curl',
      [
        '-sS',
        '--cacert',
        join(pki, 'etcd/ca.crt'),
        '--cert',
        join(pki, 'etcd/healthcheck-client.crt'),
        '--key',
        join(pki, 'etcd/healthcheck-client.key'),
        `${clientUrl}/health`,
      ],
      { encoding: 'utf8' },
    );
    expect(ok.stdout).toContain('"health":"true"');
  });
});
