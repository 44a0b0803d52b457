/**
 * "Adding a phase is one file and one line" (docs/architecture.md), held: every file of phases/
 * is wired by phases/index.ts or is the single phase of one command; the apply list gives every
 * phase one group; --only and --skip know each phase by its name and each group by its phases.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { applyPhases, PHASE_GROUPS } from '../../phases/index.js';
import { selectPhases } from '../../src/workflow/runner.js';

/** Files that are the phases of one command's own short list (etcd restore: the restore, then the kubelets), outside the workflow: its command imports them. */
const SINGLE_PHASE_COMMANDS: Readonly<Record<string, string>> = {
  'check-expiration.ts': 'src/cli/certs.ts',
  'etcd-restore.ts': 'src/cli/etcd.ts',
  'kubelet-restart.ts': 'src/cli/etcd.ts',
  'exec.ts': 'src/cli/exec.ts',
  'join-node.ts': 'src/cli/join.ts',
};

const phaseFiles = readdirSync('phases').filter((f) => f.endsWith('.ts') && f !== 'index.ts');
const index = readFileSync('phases/index.ts', 'utf8');
const importedByIndex = new Set([...index.matchAll(/from '\.\/([a-z-]+)\.js'/g)].map((m) => `${m[1]!}.ts`));

describe('the phase list', () => {
  it('every file of phases/ is imported by phases/index.ts, or by the one command it is the single phase of', () => {
    const unwired = phaseFiles.filter((f) => !importedByIndex.has(f) && !SINGLE_PHASE_COMMANDS[f]);
    expect(unwired).toEqual([]);
    for (const [file, command] of Object.entries(SINGLE_PHASE_COMMANDS)) {
      expect(importedByIndex.has(file), `${file} is a single-phase command's, not the workflow's`).toBe(false);
      expect(readFileSync(command, 'utf8')).toContain(`phases/${file.replace(/\.ts$/, '.js')}`);
    }
  });

  it('apply has each phase once, and each in exactly one --only/--skip group', () => {
    const names = applyPhases.map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
    const grouped = Object.values(PHASE_GROUPS).flat();
    expect([...grouped].sort()).toEqual([...names].sort());
  });

  it('--only NAME selects that phase alone, --skip NAME all but it; a group selects its phases in workflow order', () => {
    for (const phase of applyPhases) {
      expect(selectPhases(applyPhases, [phase.name], [], PHASE_GROUPS)).toEqual([phase]);
      expect(selectPhases(applyPhases, [], [phase.name], PHASE_GROUPS)).toHaveLength(applyPhases.length - 1);
    }
    for (const [group, members] of Object.entries(PHASE_GROUPS)) {
      expect(selectPhases(applyPhases, [group], [], PHASE_GROUPS).map((p) => p.name)).toEqual(members);
    }
  });
});
