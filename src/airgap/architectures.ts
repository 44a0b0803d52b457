/** The names one machine architecture goes by: Go's (image platforms), Debian's, rpm's and `uname -m`'s. */

/** Debian architecture names (what dpkg and the packages say) for a platform's Go architecture. */
export function debArchitecture(goArch: string): string {
  return ({ amd64: 'amd64', arm64: 'arm64', arm: 'armhf', ppc64le: 'ppc64el', s390x: 's390x' } as Record<string, string>)[goArch] ?? goArch;
}

/** rpm architecture names (what `uname -m` and the packages say) for a platform's Go architecture. */
export function rpmArchitecture(goArch: string): string {
  return ({ amd64: 'x86_64', arm64: 'aarch64', ppc64le: 'ppc64le', s390x: 's390x' } as Record<string, string>)[goArch] ?? goArch;
}

/** `uname -m` → the platform's architecture (linux/<goArch>). */
export function goArchitecture(machine: string): string {
  return (
    ({ x86_64: 'amd64', aarch64: 'arm64', armv7l: 'arm', ppc64le: 'ppc64le', s390x: 's390x' } as Record<string, string>)[machine] ?? machine
  );
}
