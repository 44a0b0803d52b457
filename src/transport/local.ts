/**
 * The local channel: commands run on this machine, for `kubestrap join` executed on the node
 * itself. A port "forward" is the port itself, since the service is already local.
 */
import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import type { Channel, PortForward } from './host.js';

export class LocalChannel implements Channel {
  run(script: string, opts: { stdin?: Buffer | Readable; timeoutMs?: number }): Promise<{ stdout: Buffer; stderr: Buffer; code: number }> {
    return new Promise((resolve, reject) => {
      // its own process group, so a timeout kills the whole command, not just the shell
      const child = spawn('sh', ['-c', script], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const timer = opts.timeoutMs
        ? setTimeout(() => {
            try {
              process.kill(-child.pid!, 'SIGKILL');
            } catch {
              // already gone
            }
            reject(new Error(`local command timed out after ${opts.timeoutMs} ms`));
          }, opts.timeoutMs)
        : undefined;
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      child.on('error', reject);
      child.on('close', (code) => {
        if (timer) clearTimeout(timer);
        resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err), code: code ?? 255 });
      });
      child.stdin.on('error', () => undefined); // the command may exit without reading its input
      if (opts.stdin instanceof Readable) {
        opts.stdin.on('error', () => child.stdin.end());
        opts.stdin.pipe(child.stdin);
      } else child.stdin.end(opts.stdin ?? Buffer.alloc(0));
    });
  }

  async forward(remotePort: number, remoteAddress = '127.0.0.1'): Promise<PortForward> {
    return { address: remoteAddress, localPort: remotePort, close: async () => undefined };
  }

  async reconnect(): Promise<void> {
    throw new Error('cannot wait for this machine to come back: kubestrap runs on it');
  }

  async close(): Promise<void> {}
}
