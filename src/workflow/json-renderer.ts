/**
 * `--output json`: one JSON object per engine event on stdout, a line each, for CI systems and
 * other programs (the human report that follows a run goes to stderr in this mode).
 */
import type { WorkflowEvent } from './events.js';

export function jsonLinesRenderer(write: (line: string) => void = (line) => process.stdout.write(line)): (event: WorkflowEvent) => void {
  return (event) => {
    write(`${JSON.stringify(event)}\n`);
  };
}
