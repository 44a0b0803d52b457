/** exec (`kubestrap exec`): one command run on every selected host, each host's output kept for the caller. */
import type { Phase } from '../src/kit/phase.js';

export interface CommandOutput {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function execPhase(script: string, asLoginUser: boolean, outputs: Map<string, CommandOutput>): Phase<string> {
  return {
    name: 'exec',
    title: 'run a command',
    description: 'runs the given command on every selected host',
    plan: async () => ({ changes: [{ target: 'command', summary: `run ${script}`, payload: script }] }),
    apply: async (_ctx, target) => {
      const result = await target.host.exec(script, { asLoginUser });
      outputs.set(target.spec.name, result);
      if (result.code !== 0)
        throw new Error(`exit code ${result.code}${result.stderr.trim() ? `: ${result.stderr.trim().split('\n').pop()}` : ''}`);
    },
  };
}
