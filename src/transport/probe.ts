/**
 * Many questions to a host in one round trip, and one way to read the answers: each named
 * script's output lines come back tagged with its name and are returned as that name's lines.
 * A script that fails answers no lines (what a host lacks is an empty answer, not an error).
 */
import type { Host } from './host.js';

/** Names are words: they tag the output lines. */
const NAME = /^[a-z][a-z0-9-]*$/;

/** The lines each question's script printed on the host, by the question's name. */
export async function probe<K extends string>(host: Host, questions: Readonly<Record<K, string>>): Promise<Record<K, string[]>> {
  const names = Object.keys(questions) as K[];
  for (const n of names) if (!NAME.test(n)) throw new Error(`probe question ${JSON.stringify(n)} is not a word`);
  const script = names.map((n) => `( ${questions[n]}\n) 2>/dev/null | sed 's/^/${n} /'`).join('\n');
  return parseTagged((await host.check(`${script}\ntrue`)).stdout, names);
}

/** Output lines `NAME rest` → rest, grouped by name (in order); lines of other names are ignored. */
export function parseTagged<K extends string>(output: string, names: readonly K[]): Record<K, string[]> {
  const answers = Object.fromEntries(names.map((n) => [n, [] as string[]])) as Record<K, string[]>;
  for (const line of output.split('\n')) {
    const space = line.indexOf(' ');
    const name = (space < 0 ? line : line.slice(0, space)) as K;
    if (name in answers) answers[name].push(space < 0 ? '' : line.slice(space + 1));
  }
  return answers;
}
