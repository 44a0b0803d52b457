/**
 * Shell completion: `kubestrap completion bash|zsh|fish` prints a script that asks the program
 * itself (`kubestrap __complete WORDS…`) for the candidates, as kubectl's does, so commands and
 * flags come from the command definitions, phase names from the workflow and host names from
 * the inventory named on the command line: nothing is kept in the script to go stale.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { parse } from 'yaml';
import { applyPhases, PHASE_GROUPS } from '../../phases/index.js';
import { UsageError } from './errors.js';

const SCRIPTS: Record<string, string> = {
  bash: `# kubestrap completion for bash: source it, or put it in /etc/bash_completion.d/kubestrap
_kubestrap() {
  local IFS=$'\\n'
  COMPREPLY=( $(compgen -W "$(kubestrap __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)" -- "\${COMP_WORDS[COMP_CWORD]}") )
}
complete -o default -F _kubestrap kubestrap
`,
  zsh: `#compdef kubestrap
# kubestrap completion for zsh: put it on $fpath as _kubestrap, or source it after compinit
_kubestrap() {
  local -a candidates
  candidates=("\${(@f)$(kubestrap __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  compadd -a candidates
}
compdef _kubestrap kubestrap
`,
  fish: `# kubestrap completion for fish: put it in ~/.config/fish/completions/kubestrap.fish
complete -c kubestrap -f -a '(kubestrap __complete (commandline -opc)[2..-1] (commandline -ct))'
`,
};

/** Host names of the inventory given with -i/--inventory among `words`; none when it cannot be read. */
function inventoryHosts(words: readonly string[]): string[] {
  const at = words.findIndex((w) => w === '-i' || w === '--inventory');
  const file = at >= 0 ? words[at + 1] : words.find((w) => w.startsWith('--inventory='))?.slice('--inventory='.length);
  if (!file) return [];
  try {
    const doc = parse(readFileSync(file, 'utf8')) as { hosts?: Array<{ name?: unknown }> };
    return (doc.hosts ?? []).map((h) => h.name).filter((n): n is string => typeof n === 'string');
  } catch {
    return [];
  }
}

/** A comma-separated list being typed: the names not given yet, after what was. */
function listCandidates(current: string, names: readonly string[]): string[] {
  const done = current.split(',');
  const prefix = done.slice(0, -1).join(',');
  return names.filter((n) => !done.slice(0, -1).includes(n)).map((n) => (prefix ? `${prefix},${n}` : n));
}

/** What may follow `words` (the last one is the word being completed, possibly empty). */
export function completions(root: Command, words: readonly string[]): string[] {
  let command = root;
  for (const word of words.slice(0, -1)) command = command.commands.find((c) => c.name() === word) ?? command;
  const current = words.at(-1) ?? '';
  const previous = words.at(-2);
  if (previous === '--only' || previous === '--skip')
    return listCandidates(current, [...applyPhases.map((p) => p.name), ...Object.keys(PHASE_GROUPS)]);
  if (previous === '--hosts') return listCandidates(current, inventoryHosts(words));
  if (current.startsWith('-')) return [...command.options.flatMap((o) => (o.long ? [o.long] : [])), '--help'];
  return command.commands.filter((c) => c.name() !== '__complete').map((c) => c.name());
}

export function completionCommand(): Command {
  return new Command('completion')
    .description('print a shell completion script: commands, flags, phase names for --only/--skip, host names from -i FILE for --hosts')
    .argument('<shell>', 'bash, zsh or fish')
    .addHelpText(
      'after',
      '\nExamples:\n  kubestrap completion bash > /etc/bash_completion.d/kubestrap     # or: source <(kubestrap completion bash)\n  kubestrap completion zsh > "${fpath[1]}/_kubestrap"\n  kubestrap completion fish > ~/.config/fish/completions/kubestrap.fish',
    )
    .action((shell: string) => {
      const script = SCRIPTS[shell];
      if (!script) throw new UsageError(`completion: unknown shell ${JSON.stringify(shell)}; one of ${Object.keys(SCRIPTS).join(', ')}`);
      process.stdout.write(script);
    });
}

/** The helper the scripts call; not listed in --help. */
export function completeCommand(root: () => Command): Command {
  return new Command('__complete')
    .allowUnknownOption()
    .helpOption(false)
    .argument('[words...]')
    .action((words: string[]) => {
      const found = completions(root(), words.length ? words : ['']);
      if (found.length) process.stdout.write(`${found.join('\n')}\n`);
    });
}
