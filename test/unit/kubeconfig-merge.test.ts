/**
 * `kubestrap kubeconfig --merge`: the saved admin kubeconfig merged into an existing kubectl
 * configuration, read back by the real kubectl (`kubectl config`), which needs no cluster.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { buildKubeconfig, mergeKubeconfig, renameContext, serializeKubeconfig } from '../../src/pki/kubeconfig.js';
import { tempDir } from '../lab/helpers.js';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const config = (cluster: string, server: string, user: string) =>
  serializeKubeconfig(
    buildKubeconfig({ clusterName: cluster, server, caCertPem: CA, userName: user, credentials: { token: `${user}-token` } }),
  );

function kubectlView(text: string): {
  contexts: Array<{ name: string; context: { cluster: string; user: string } }>;
  clusters: Array<{ name: string; cluster: { server: string } }>;
  'current-context': string;
} {
  const file = join(tempDir('kubeconfig-merge'), 'config');
  writeFileSync(file, text, { mode: 0o600 });
  return JSON.parse(execFileSync('kubectl', ['config', 'view', '--kubeconfig', file, '-o', 'json'], { encoding: 'utf8' }));
}

test("merged into a kubectl configuration with another context, both contexts are there for kubectl; a re-merge replaces its own entries; the user's current context stays", () => {
  const theirs = config('staging', 'https://10.1.0.1:6443', 'ops');
  const ours = renameContext(config('prod-10.0.0.10_6443', 'https://10.0.0.10:6443', 'prod-admin'), 'prod');
  const merged = mergeKubeconfig(theirs, ours);
  const view = kubectlView(merged);
  expect(view.contexts.map((c) => [c.name, c.context.cluster, c.context.user]).sort()).toEqual([
    ['ops@staging', 'staging', 'ops'],
    ['prod', 'prod-10.0.0.10_6443', 'prod-admin'],
  ]);
  expect(view['current-context']).toBe('ops@staging');
  const again = kubectlView(mergeKubeconfig(merged, ours.replace('https://10.0.0.10:6443', 'https://10.0.0.11:6443')));
  expect(again.clusters.map((c) => [c.name, c.cluster.server]).sort()).toEqual([
    ['prod-10.0.0.10_6443', 'https://10.0.0.11:6443'],
    ['staging', 'https://10.1.0.1:6443'],
  ]);
  // into nothing: the merged context becomes the current one
  expect(kubectlView(mergeKubeconfig(undefined, ours))['current-context']).toBe('prod');
});
