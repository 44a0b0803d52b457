/** Opens a host: SSH connection, privilege check, OS facts — everything phases may rely on. */
import { probeFacts } from '../facts/probe.js';
import type { RunLog } from '../log/run-log.js';
import type { ConnectTarget } from '../transport/credentials.js';
import { Host } from '../transport/host.js';
import type { HostKeyPolicy } from '../transport/host-keys.js';
import { openSsh } from '../transport/ssh.js';
import type { HostTarget } from './phase.js';

export interface ConnectOptions {
  readonly hostKeys: HostKeyPolicy;
  readonly connectTimeoutMs: number;
  readonly log: RunLog;
}

export async function connectTarget(target: ConnectTarget, options: ConnectOptions): Promise<HostTarget> {
  const channel = await openSsh(target.endpoint, { hostKeys: options.hostKeys, connectTimeoutMs: options.connectTimeoutMs, bastion: target.bastion });
  const host = new Host(target.host.name, channel, target.privilege, options.log);
  try {
    if (target.privilege.kind !== 'root') {
      const check = await host.exec('id -u');
      if (check.code !== 0 || check.stdout.trim() !== '0') {
        const how = target.privilege.kind === 'sudo-password' ? 'sudo rejected the password' : target.privilege.kind === 'sudo-passwordless' ? 'sudo -n needs a password (set sudo.mode: password)' : 'the login user is not root and sudo.mode is none';
        throw new Error(`${target.host.name}: cannot become root: ${how}${check.stderr.trim() ? ` (${check.stderr.trim().split('\n').pop()})` : ''}`);
      }
    }
    return { spec: target.host, host, facts: await probeFacts(host) };
  } catch (err) {
    await host.close();
    throw err;
  }
}
