/** Before e2e tests: remove labs left by crashed runs and put back machine-wide settings they changed. */
import { sweepStaleLabs } from '../lab/lab.js';
import { restoreMachineSysctls } from './machine-sysctls.js';

export default function setup(): void {
  sweepStaleLabs();
  restoreMachineSysctls();
}
