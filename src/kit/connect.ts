/** Opens a host: SSH connection, privilege check, OS facts — everything phases may rely on. */
import { probeFacts } from '../facts/probe.js';
import type { RunLog } from '../log/run-log.js';
import type { ConnectTarget } from '../transport/credentials.js';
import { Host, SUDO_REJECTED_EXIT, type Channel, type Privilege } from '../transport/host.js';
import { openSsh, type HostKeyVerifier } from '../transport/ssh.js';
import type { HostTarget } from './phase.js';

export interface ConnectOptions {
  readonly hostKeys: HostKeyVerifier;
  readonly connectTimeoutMs: number;
  readonly log: RunLog;
}

/**
 * The privilege to use on this host: a password is only ever sent to a sudo that asks for one.
 * A login that is root already, or a sudo rule with NOPASSWD, makes `sudo.mode: password`
 * passwordless (checked with the credential cache ignored, so a recent sudo does not count).
 */
async function effectivePrivilege(channel: Channel, wanted: Privilege): Promise<Privilege> {
  if (wanted.kind !== 'sudo-password') return wanted;
  const probe = await channel.run(
    'if [ "$(id -u)" = 0 ]; then echo root; elif sudo -k -n true 2>/dev/null; then echo nopasswd; else echo asks; fi',
    {},
  );
  const answer = probe.stdout.toString('utf8').trim();
  if (answer === 'root') return { kind: 'root' };
  return answer === 'nopasswd' ? { kind: 'sudo-passwordless' } : wanted;
}

export async function connectTarget(target: ConnectTarget, options: ConnectOptions): Promise<HostTarget> {
  const channel = await openSsh(target.endpoint, {
    hostKeys: options.hostKeys,
    connectTimeoutMs: options.connectTimeoutMs,
    jumps: target.jumps,
  });
  const privilege = await effectivePrivilege(channel, target.privilege);
  const host = new Host(target.host.name, channel, privilege, options.log);
  try {
    if (privilege.kind !== 'root') {
      const check = await host.exec('id -u');
      if (check.code !== 0 || check.stdout.trim() !== '0') {
        const how =
          privilege.kind === 'sudo-password'
            ? check.code === SUDO_REJECTED_EXIT
              ? 'sudo rejected the password'
              : 'sudo accepted the password but keeps no credentials for the command that follows (timestamp_timeout=0?); use passwordless sudo or a root login'
            : privilege.kind === 'sudo-passwordless'
              ? 'sudo -n needs a password (set sudo.mode: password)'
              : 'the login user is not root and sudo.mode is none';
        throw new Error(
          `${target.host.name}: cannot become root: ${how}${check.stderr.trim() ? ` (${check.stderr.trim().split('\n').pop()})` : ''}`,
        );
      }
    }
    return { spec: target.host, host, facts: await probeFacts(host) };
  } catch (err) {
    await host.close();
    throw err;
  }
}
