/** Where the e2e lab's shell scripts are, from the source tree or from compiled code in dist/, and the checkout they belong to. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Scripts live in the source tree; compiled code runs from dist/. */
const SCRIPTS = existsSync(join(HERE, 'build-kubernetes.sh')) ? HERE : join(HERE, '..', '..', '..', 'test', 'e2e');

export function e2eScript(name: string): string {
  return join(SCRIPTS, name);
}

/** The checkout's root directory. */
export const CHECKOUT = resolve(SCRIPTS, '..', '..');
