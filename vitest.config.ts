import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // generous limits, not timing assertions: RSA keygen and real etcd on a busy 2-core machine
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'lab',
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
          include: ['test/e2e/**/*.test.ts'],
          // Real Kubernetes nodes (systemd-nspawn hosts running containerd and the kubelet): one
          // cluster at a time; limits sized for cluster bring-up on 2 cores, not timing assertions.
          fileParallelism: false,
          testTimeout: 900_000,
          hookTimeout: 900_000,
          globalSetup: ['test/e2e/global-setup.ts'],
        },
      },
      {
        test: {
          name: 'vm',
          include: ['test/vm/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 1_200_000,
        },
      },
    ],
  },
});
