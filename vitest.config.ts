import { defineConfig } from 'vitest/config';
import LongestFirst from './test/e2e/sequencer.js';

/** Every project's files have their scratch directories removed after them. */
const setupFiles = ['test/lab/temp-dirs.ts'];

export default defineConfig({
  test: {
    sequence: { sequencer: LongestFirst },
    projects: [
      {
        test: {
          name: 'unit',
          setupFiles,
          include: ['test/unit/**/*.test.ts'],
          // a CA for https servers on loopback, trusted by the test processes (NODE_EXTRA_CA_CERTS)
          globalSetup: ['test/unit/global-setup.ts'],
          // generous limits, not timing assertions: RSA keygen and real etcd on a busy 2-core machine
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'lab',
          setupFiles,
          include: ['test/lab/**/*.test.ts'],
          // Lab tests start real hosts (namespaces, sshd); one file at a time keeps the
          // 2-core machines responsive and the figures in the logs meaningful.
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 300_000,
          globalSetup: ['test/lab/global-setup.ts'],
        },
      },
      {
        test: {
          name: 'e2e',
          setupFiles,
          include: ['test/e2e/**/*.test.ts'],
          // Real Kubernetes nodes (systemd-nspawn hosts running containerd and the kubelet): two
          // files, two clusters, at a time (each lab its own subnet and bridge), longest first
          // (test/e2e/sequencer.ts); limits sized for bring-up on a busy 2-core machine, not
          // timing assertions.
          fileParallelism: true,
          maxWorkers: 2,
          testTimeout: 900_000,
          hookTimeout: 900_000,
          globalSetup: ['test/e2e/global-setup.ts'],
        },
      },
      {
        test: {
          name: 'vm',
          setupFiles,
          include: ['test/vm/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 1_200_000,
        },
      },
    ],
  },
});
