/**
 * POSIX shell quoting. Remote shells may be dash or busybox sh, so bash-only forms such as zx's
 * $'...' must never be used for commands sent to hosts.
 */
const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function quote(arg: string): string {
  if (arg !== '' && SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function quoteArgv(argv: readonly string[]): string {
  return argv.map(quote).join(' ');
}
