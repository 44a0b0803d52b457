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
}

const apt: PackageOps = {
  query: (names) => `dpkg-query -W -f='\${db:Status-Status} \${Package} \${Version}\\n' ${names.map(quote).join(' ')} 2>/dev/null | awk '$1 == "installed" {print $2, $3}'`,
  install: (pkgs) =>
    `export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q --allow-downgrades --allow-change-held-packages ${pkgs.map((p) => quote(p.version ? `${p.name}=${p.version}` : p.name)).join(' ')}`,
  hold: (names) => `apt-mark hold ${names.map(quote).join(' ')} >/dev/null`,
  installFiles: (paths) => `export DEBIAN_FRONTEND=noninteractive; apt-get install -y -q --allow-downgrades ${paths.map(quote).join(' ')}`,
};

function rpmOps(tool: 'dnf' | 'yum'): PackageOps {
  return {
    query: (names) => `rpm -q --qf '%{NAME} %{VERSION}-%{RELEASE}\\n' ${names.map(quote).join(' ')} 2>/dev/null | grep -v 'is not installed'`,
    install: (pkgs) => `${tool} install -y --disableexcludes=kubernetes ${pkgs.map((p) => quote(p.version ? `${p.name}-${p.version}` : p.name)).join(' ')}`,
    // the kubernetes repo file carries `exclude=`, so upgrades skip these unless asked
    hold: () => 'true',
    installFiles: (paths) => `${tool} install -y ${paths.map(quote).join(' ')}`,
  };
}

export function packageOps(pm: PackageManager): PackageOps | undefined {
  if (pm === 'apt') return apt;
  if (pm === 'dnf' || pm === 'yum') return rpmOps(pm);
  return undefined;
}

export function parseInstalled(output: string): Map<string, string> {
  return new Map(output.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
}

/** Fetches a repository signing key into a keyring file (apt's signed-by), world-readable. */
export function downloadKey(url: string, path: string): string {
  return `install -d -m 0755 ${quote(path.replace(/\/[^/]+$/, ''))} && curl -fsSL ${quote(url)} -o ${quote(path)} && chmod 0644 ${quote(path)}`;
}
