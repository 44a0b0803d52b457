/**
 * Terminal prompts. enquirer hangs forever without a TTY, so every prompt here is reachable
 * only after the caller checked process.stdin.isTTY.
 */
import enquirer from 'enquirer';
import { UsageError } from './errors.js';

export async function askPassphrase(keyPath: string): Promise<string> {
  const answer = await enquirer.prompt<{ passphrase: string }>({
    type: 'password',
    name: 'passphrase',
    message: `Passphrase for ${keyPath}`,
  });
  return answer.passphrase;
}

/** Asks before a destructive command; without a terminal only `yes` (the --yes flag) agrees. */
export async function confirmDestructive(question: string, yes: boolean | undefined, what: string): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY) throw new UsageError(`${what}: pass --yes to confirm (no terminal to ask on)`);
  const answer = await enquirer.prompt<{ ok: boolean }>({ type: 'confirm', name: 'ok', initial: false, message: question });
  return answer.ok;
}
