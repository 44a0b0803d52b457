/**
 * Whether the running kernel has a module: loaded, built in, or its feature visible. Inside a
 * container /sys/module may not show the machine's modules at all, so a module's feature (the
 * bridge netfilter settings, overlay among the filesystems) counts as its evidence too.
 */
import { quote } from '../transport/quote.js';

/** Evidence that a built-in module is active when /sys/module has no entry for it. */
const FEATURE_PROBES: Readonly<Record<string, string>> = {
  br_netfilter: '[ -d /proc/sys/net/bridge ]',
  overlay: '{ while read -r a b; do [ "$b" = overlay ] || [ "$a" = overlay ] && exit 0; done < /proc/filesystems; false; }',
  ip_vs: '[ -e /proc/net/ip_vs ]',
  nf_conntrack: '[ -e /proc/sys/net/netfilter/nf_conntrack_max ]',
};

/** A script printing one line per module, `NAME present` or `NAME missing`. */
export function modulePresenceScript(modules: readonly string[]): string {
  // cheapest evidence first: a directory test and a builtin probe before any grep
  // the running kernel's release, read once with a builtin (a uname per module was a process each)
  return [
    'read -r release < /proc/sys/kernel/osrelease',
    ...modules.map((m) => {
      const builtin = `grep -q ${quote(`/${m}.ko`)} /lib/modules/"$release"/modules.builtin 2>/dev/null`;
      const probe = FEATURE_PROBES[m] ? `${FEATURE_PROBES[m]} || ` : '';
      return `if [ -d /sys/module/${m} ] || ${probe}${builtin}; then echo "${m} present"; else echo "${m} missing"; fi`;
    }),
  ].join('\n');
}

/** The modules a modulePresenceScript's output names missing. */
export function missingModules(lines: readonly string[]): string[] {
  return lines.filter((l) => l.endsWith(' missing')).map((l) => l.split(' ')[0]!);
}
