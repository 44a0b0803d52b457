/**
 * Machine-wide kernel settings the e2e nodes need from this machine (their own /proc/sys is
 * read-only): the values the 1.20 kubelet sets at start and fails on when it cannot, and enough
 * inotify instances for every node's systemd, containerd and kubelet. Labs run side by side
 * (two e2e files at a time), so each lab holds a claim and the machine gets its own values back
 * only when the last claim goes: a lab that ended must not pull the settings from under a
 * kubelet of another lab that restarts later.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive } from '../lab/lab.js';

const STATE = '/run/kubestrap-lab';
const SAVED = join(STATE, 'e2e-machine-sysctls.json');
const CLAIMS = join(STATE, 'e2e-sysctl-claims');
const LOCK = join(STATE, 'e2e-sysctl-lock');
/** A lock older than this was left by a process that died inside the few writes it guards. */
const STALE_LOCK_MS = 10_000;
/** Values the 1.20 kubelet sets at start (and fails on when it cannot). */
export const KUBELET_MACHINE_SYSCTLS: Readonly<Record<string, string>> = {
  'vm.overcommit_memory': '1',
  'kernel.panic': '10',
  'kernel.panic_on_oops': '1',
};
const INOTIFY_INSTANCES = 'fs.inotify.max_user_instances';
const INOTIFY_NEEDED = 1024;

const procPath = (name: string) => join('/proc/sys', name.replaceAll('.', '/'));
const sysctl = (name: string): string => readFileSync(procPath(name), 'utf8').trim();
function setSysctl(name: string, value: string): void {
  writeFileSync(procPath(name), value);
}

/** Runs `fn` holding the claims' lock: two vitest workers claim and release at the same moments. */
function locked<T>(fn: () => T): T {
  mkdirSync(STATE, { recursive: true });
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > STALE_LOCK_MS) rmSync(LOCK, { recursive: true, force: true });
      } catch {
        // released meanwhile
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/** Claims held by live processes; those of processes that died (a crashed run) are dropped. */
function liveClaims(): string[] {
  mkdirSync(CLAIMS, { recursive: true });
  return readdirSync(CLAIMS).filter((claim) => {
    if (processAlive(Number(claim.split('-')[0]))) return true;
    rmSync(join(CLAIMS, claim), { force: true });
    return false;
  });
}

function restoreSaved(): void {
  if (!existsSync(SAVED)) return;
  const saved = JSON.parse(readFileSync(SAVED, 'utf8')) as Record<string, string>;
  for (const [name, value] of Object.entries(saved)) setSysctl(name, value);
  rmSync(SAVED);
}

let claims = 0;

/** Sets the nodes' machine-wide values for one lab; the machine's own are saved by the first claim. */
export function claimMachineSysctls(): string {
  return locked(() => {
    // a crashed run's file keeps the originals: saved once
    if (liveClaims().length === 0 && !existsSync(SAVED)) {
      const names = [...Object.keys(KUBELET_MACHINE_SYSCTLS), INOTIFY_INSTANCES];
      writeFileSync(SAVED, JSON.stringify(Object.fromEntries(names.map((n) => [n, sysctl(n)]))));
    }
    const claim = `${process.pid}-${++claims}`;
    writeFileSync(join(CLAIMS, claim), '');
    for (const [name, value] of Object.entries(KUBELET_MACHINE_SYSCTLS)) setSysctl(name, value);
    if (Number(sysctl(INOTIFY_INSTANCES)) < INOTIFY_NEEDED) setSysctl(INOTIFY_INSTANCES, String(INOTIFY_NEEDED));
    return claim;
  });
}

/** Ends one lab's claim; the last claim to go puts the machine's own values back. */
export function releaseMachineSysctls(claim: string): void {
  locked(() => {
    rmSync(join(CLAIMS, claim), { force: true });
    if (liveClaims().length === 0) restoreSaved();
  });
}

/** Puts the machine's own values back unless a live lab holds a claim (claims of dead processes do not count). */
export function restoreMachineSysctls(): void {
  locked(() => {
    if (liveClaims().length === 0) restoreSaved();
  });
}

/** What the lab-cycle test compares: the claims other labs hold, and the machine's own values while any claim is held. */
export function machineSysctlClaims(): { readonly claims: number; readonly originals?: Readonly<Record<string, string>> } {
  return locked(() => ({
    claims: liveClaims().length,
    originals: existsSync(SAVED) ? (JSON.parse(readFileSync(SAVED, 'utf8')) as Record<string, string>) : undefined,
  }));
}
