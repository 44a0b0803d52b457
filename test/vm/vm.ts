/**
 * A full virtual machine for the kernel-level truth the namespace lab cannot give: its own
 * kernel, modules, swap and sysctls. Software-emulated QEMU (KVM does not run stock kernels on
 * these machines), a qcow2 overlay over the cached image, SSH forwarded to a loopback port.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cachedBuild } from '../lab/lab.js';
import { tempDir } from '../lab/helpers.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The build script lives in the source tree; compiled code runs from dist/, so look in both. */
const SCRIPTS = existsSync(join(HERE, 'build-image.sh')) ? HERE : join(HERE, '..', '..', '..', 'test', 'vm');
const CACHE = process.env.KUBESTRAP_LAB_CACHE ?? '/var/cache/kubestrap-lab';

export interface Vm {
  readonly sshPort: number;
  readonly hostKey: string;
  readonly clientKey: string;
  readonly console: string;
  stop(): Promise<void>;
}

export const ensureVmImage = (): string => cachedBuild(join(SCRIPTS, 'build-image.sh'));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

/** Resolves once sshd answers with its banner (the port forward alone accepts early). */
async function waitForSsh(port: number, deadlineMs: number, vm: ChildProcess): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    if (vm.exitCode !== null) throw new Error(`the VM exited with code ${vm.exitCode}`);
    const banner = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      const timer = setTimeout(() => {
        socket.destroy();
        resolve('');
      }, 3000);
      socket.once('data', (d) => {
        clearTimeout(timer);
        socket.destroy();
        resolve(d.toString());
      });
      socket.once('error', () => {
        clearTimeout(timer);
        resolve('');
      });
    });
    if (banner.startsWith('SSH-')) return;
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(`the VM's sshd did not answer within ${deadlineMs / 1000} s`);
}

export async function startVm(): Promise<Vm> {
  const image = ensureVmImage();
  const dir = tempDir('vm');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', join(image, 'disk.qcow2'), join(dir, 'overlay.qcow2')]);
  const sshPort = await freePort();
  const consoleLog = join(dir, 'console.log');
  const vm = spawn(
    'qemu-system-x86_64',
    [
      '-accel',
      'tcg,thread=multi',
      '-cpu',
      'max',
      '-m',
      '1024',
      '-smp',
      '1',
      '-kernel',
      join(image, 'vmlinuz'),
      '-initrd',
      join(image, 'initrd.img'),
      '-append',
      'root=/dev/vda rw console=ttyS0 net.ifnames=0',
      '-drive',
      `file=${join(dir, 'overlay.qcow2')},if=virtio,format=qcow2,cache=unsafe`,
      '-netdev',
      `user,id=n0,hostfwd=tcp:127.0.0.1:${sshPort}-:22`,
      '-device',
      'virtio-net-pci,netdev=n0',
      '-display',
      'none',
      '-serial',
      `file:${consoleLog}`,
      '-monitor',
      'none',
    ],
    { stdio: 'ignore' },
  );
  const stop = async () => {
    if (vm.exitCode === null) {
      vm.kill('SIGKILL');
      await new Promise((r) => vm.once('exit', r));
    }
  };
  try {
    await waitForSsh(sshPort, 8 * 60_000, vm);
  } catch (err) {
    const tail = (() => {
      try {
        return readFileSync(consoleLog, 'utf8').split('\n').slice(-20).join('\n');
      } catch {
        return '';
      }
    })();
    await stop();
    throw new Error(`${(err as Error).message}\nconsole:\n${tail}`, { cause: err });
  }
  const blob = Buffer.from(readFileSync(join(image, 'host_key.pub'), 'utf8').split(/\s+/)[1]!, 'base64');
  return {
    sshPort,
    hostKey: `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`,
    clientKey: join(CACHE, 'id_ed25519'),
    console: consoleLog,
    stop,
  };
}
