/** kubestrap's --report file as the tests read it; its type is the product's (src/workflow/report.ts). */
import { readFileSync } from 'node:fs';
import type { reportJson } from '../../src/workflow/report.js';

export type Report = ReturnType<typeof reportJson>;

export const readReport = (file: string): Report => JSON.parse(readFileSync(file, 'utf8')) as Report;
