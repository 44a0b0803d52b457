/** The apply workflow: the only place where phase order is decided. */
import type { Phase } from '../src/workflow/phase.js';

export const applyPhases: readonly Phase[] = [];
