/** Before lab tests: remove labs left by crashed runs and build the base root filesystem once. */
import { ensureBaseRootfs, sweepStaleLabs } from './lab.js';

export default function setup(): void {
  sweepStaleLabs();
  ensureBaseRootfs();
}
