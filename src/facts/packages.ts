/**
 * Package operations through the host's package manager, a probed capability: apt for the Debian
 * family, dnf or yum for the RHEL family. Scripts are built here and run by the phases.
 */
import type { PackageManager } from './probe.js';
import { quote } from '../transport/quote.js';

export interface PackageOps {
  /** Prints `name version` for each installed package of `names`. */
  query(names: readonly string[]): string;
  /** Refreshes metadata then installs the exact `name=version` (or newest when version is empty). */
  install(packages: ReadonlyArray<{ name: string; version?: string }>): string;
  /** Keeps the packages at their version on system upgrades. */
  hold(names: readonly string[]): string;
  /** Installs local package files uploaded to the host. */
  installFiles(paths: readonly string[]): string;
  /** The lock files a transaction takes (another holder makes it fail or hang). */
  readonly locks: readonly string[];
}

/** apt waits this long for a lock taken between kubestrap's check and its own start (apt 1.9.11+; older apt ignores it). */
const APT_LOCK_WAIT = '-o DPkg::Lock::Timeout=60';

/** A dpkg run cut short (its SSH session killed with kubestrap) leaves packages half-configured; apt refuses to go on until they are configured. */
const FINISH_INTERRUPTED = 'dpkg --configure -a';

const apt: PackageOps = {
  query: (names) =>
    `dpkg-query -W -f='\${db:Status-Status} \${Package} \${Version}\\n' ${names.map(quote).join(' ')} 2>/dev/null | awk '$1 == "installed" {print $2, $3}'`,
  install: (pkgs) =>
    // the first line names what failed in an error: the update and the install it leads to
    [
      `export DEBIAN_FRONTEND=noninteractive; ${FINISH_INTERRUPTED} && apt-get ${APT_LOCK_WAIT} update -q &&`,
      `  apt-get ${APT_LOCK_WAIT} install -y -q --allow-downgrades --allow-change-held-packages \\`,
      `  ${pkgs.map((p) => quote(p.version ? `${p.name}=${p.version}` : p.name)).join(' ')}`,
    ].join('\n'),
  hold: (names) => `apt-mark hold ${names.map(quote).join(' ')} >/dev/null`,
  installFiles: (paths) =>
    `export DEBIAN_FRONTEND=noninteractive; ${FINISH_INTERRUPTED} && apt-get ${APT_LOCK_WAIT} install -y -q --allow-downgrades ${paths.map(quote).join(' ')}`,
  locks: ['/var/lib/dpkg/lock-frontend', '/var/lib/dpkg/lock', '/var/lib/apt/lists/lock', '/var/cache/apt/archives/lock'],
};

function rpmOps(tool: 'dnf' | 'yum'): PackageOps {
  return {
    query: (names) =>
      `rpm -q --qf '%{NAME} %{VERSION}-%{RELEASE}\\n' ${names.map(quote).join(' ')} 2>/dev/null | grep -v 'is not installed'`,
    install: (pkgs) =>
      `${tool} install -y --disableexcludes=kubernetes ${pkgs.map((p) => quote(p.version ? `${p.name}-${p.version}` : p.name)).join(' ')}`,
    // the kubernetes repo file carries `exclude=`, so upgrades skip these unless asked
    hold: () => 'true',
    installFiles: (paths) => `${tool} install -y ${paths.map(quote).join(' ')}`,
    locks: ['/var/lib/rpm/.rpm.lock'],
  };
}

export function packageOps(pm: PackageManager): PackageOps | undefined {
  if (pm === 'apt') return apt;
  if (pm === 'dnf' || pm === 'yum') return rpmOps(pm);
  return undefined;
}

export function parseInstalled(output: string): Map<string, string> {
  return new Map(
    output
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ') as [string, string]),
  );
}

/** Fetches a repository signing key into a keyring file (apt's signed-by), world-readable. */
export function downloadKey(url: string, path: string): string {
  return `install -d -m 0755 ${quote(path.replace(/\/[^/]+$/, ''))} && curl -fsSL ${quote(url)} -o ${quote(path)} && chmod 0644 ${quote(path)}`;
}
