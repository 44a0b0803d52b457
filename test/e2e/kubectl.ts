/** The real kubectl (/usr/bin/kubectl) against a lab cluster, with a given kubeconfig. */
import { execFile } from 'node:child_process';

export function kubectl(kubeconfig: string, args: readonly string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'kubectl',
      ['--kubeconfig', kubeconfig, ...args],
      { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 32 << 20 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`kubectl ${args.join(' ')}: ${stderr.trim() || err.message}`));
        else resolve(stdout);
      },
    );
  });
}

/** stdout whatever the exit code (kubectl auth can-i answers "no" with exit code 1). */
export function kubectlAnswer(kubeconfig: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile('kubectl', ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      resolve(stdout.trim() || `error: ${stderr.trim() || err?.message}`);
    });
  });
}

/** stdout and stderr of a call that succeeds (what kubectl warns about on stderr matters to some tests). */
export function kubectlOutput(kubeconfig: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('kubectl', ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`kubectl ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** Test pods: the lab's busybox, never pulled (the image is in every node's containerd). */
export function busyboxPod(name: string, nodeName: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'kubestrap-e2e' } },
    spec: {
      nodeName,
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image: 'registry.local/busybox:1', imagePullPolicy: 'Never', command: ['sleep', '3600'] }],
    },
  });
}

/** Polls `ok` every 2 s until it holds (state the cluster reaches on its own time, e.g. mirror pods). */
export async function waitFor(ok: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`not reached in ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** Waits until the kubelets publish the `count` control-plane static pods' mirror pods (a minute or two after they start). */
export function waitForMirrorPods(kubeconfig: string, count: number): Promise<void> {
  return waitFor(async () => {
    const names = await kubectl(kubeconfig, ['get', 'pods', '-n', 'kube-system', '-l', 'tier=control-plane', '-o', 'name']);
    return names.trim().split('\n').filter(Boolean).length === count;
  }, 240_000);
}
