/**
 * Terminal prompts. enquirer hangs forever without a TTY, so every prompt here is reachable
 * only after the caller checked process.stdin.isTTY.
 */
import enquirer from 'enquirer';

export async function askPassphrase(keyPath: string): Promise<string> {
  const answer = await enquirer.prompt<{ passphrase: string }>({ type: 'password', name: 'passphrase', message: `Passphrase for ${keyPath}` });
  return answer.passphrase;
}
