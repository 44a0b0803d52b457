/** Kernel release strings such as 3.10.0-1160.el7.x86_64 or 6.1.0-18-amd64, against a minimum like 4.19. */
export function kernelAtLeast(release: string, minimum: string): boolean {
  const version = (text: string) => {
    const m = /^(\d+)\.(\d+)/.exec(text);
    return m ? [Number(m[1]), Number(m[2])] : undefined;
  };
  const have = version(release);
  const want = version(minimum);
  if (!have || !want) return false;
  return have[0]! > want[0]! || (have[0] === want[0] && have[1]! >= want[1]!);
}
