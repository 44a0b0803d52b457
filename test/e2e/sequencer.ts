/**
 * The order test files start in: end-to-end files longest first, so that the e2e project's two
 * lanes (two clusters at a time) finish together; every other file in vitest's own order.
 * Seconds as measured alone in CI (.ci/run prints each file's time); a file missing here starts last.
 */
import { basename } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const E2E_SECONDS: Readonly<Record<string, number>> = {
  'ha.test.ts': 650,
  'faults.test.ts': 600,
  'airgap.test.ts': 370,
  'reset.test.ts': 280,
  'join.test.ts': 240,
  'adopt-external-etcd.test.ts': 230,
  'control-plane.test.ts': 215,
  'kubeadm-baseline.test.ts': 210,
  'node-join.test.ts': 140,
  'stuck-control-plane.test.ts': 125,
  'lab-cycle.test.ts': 90,
  'host-prep.test.ts': 50,
};

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const seconds = (f: TestSpecification) => (f.project.name === 'e2e' ? (E2E_SECONDS[basename(f.moduleId)] ?? 0) : 0);
    // a stable sort: files of equal weight keep vitest's order
    return [...(await super.sort(files))].sort((a, b) => seconds(b) - seconds(a));
  }
}
