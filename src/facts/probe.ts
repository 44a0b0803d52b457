/**
 * OS facts, probed once per host in a single round trip. kubestrap reasons about capabilities
 * (which package manager, which init system, can kernel settings be changed) rather than
 * about distribution names, so derivatives work without a per-distro module.
 */
import { printable } from '../log/redact.js';
import type { Host } from '../transport/host.js';

export type PackageManager = 'apt' | 'dnf' | 'yum' | 'zypper' | 'apk' | 'none';
export type InitSystem = 'systemd' | 'openrc' | 'none';

export interface HostFacts {
  readonly os: {
    readonly id: string;
    readonly versionId: string;
    readonly codename: string;
    readonly like: readonly string[];
    readonly prettyName: string;
  };
  readonly packageManager: PackageManager;
  readonly initSystem: InitSystem;
  readonly kernel: string;
  readonly arch: string;
  readonly cgroupVersion: 1 | 2;
  readonly cpus: number;
  readonly memoryMB: number;
  readonly hostname: string;
  /** Container technology when the host is a container (lxc, docker, systemd-nspawn, …); kernel-level steps are then impossible. */
  readonly container: string | undefined;
  /** Whether machine-wide kernel settings under /proc/sys can be written. */
  readonly procSysWritable: boolean;
  readonly productUuid: string;
  readonly macAddresses: readonly string[];
}

/** Kept POSIX: the probe must run before we know anything about the host's shell or tools. */
export const PROBE_SCRIPT = `
if [ -r /etc/os-release ]; then . /etc/os-release; fi
echo "os_id=\${ID:-unknown}"
echo "os_version_id=\${VERSION_ID:-}"
echo "os_like=\${ID_LIKE:-}"
echo "os_codename=\${VERSION_CODENAME:-}"
echo "os_pretty=\${PRETTY_NAME:-unknown}"
pm=none
for c in apt-get:apt dnf:dnf yum:yum zypper:zypper apk:apk; do
  if command -v "\${c%%:*}" >/dev/null 2>&1; then pm=\${c#*:}; break; fi
done
echo "pkg=$pm"
if [ -d /run/systemd/system ]; then echo init=systemd
elif command -v openrc >/dev/null 2>&1 || [ -d /run/openrc ]; then echo init=openrc
else echo init=none; fi
read -r release < /proc/sys/kernel/osrelease; echo "kernel=$release"
echo "arch=$(uname -m)"
if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then echo cgroup=2; else echo cgroup=1; fi
echo "cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc)"
echo "mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
read -r name < /proc/sys/kernel/hostname; echo "hostname=$name"
virt=$(tr '\\0' '\\n' < /proc/1/environ 2>/dev/null | sed -n 's/^container=//p' | head -n1)
if [ -z "$virt" ]; then virt=$(systemd-detect-virt -c 2>/dev/null || true); fi
if [ -z "$virt" ] || [ "$virt" = none ]; then
  if [ -f /.dockerenv ]; then virt=docker; elif [ -f /run/.containerenv ]; then virt=podman; else virt=; fi
fi
echo "container=$virt"
if [ -w /proc/sys/vm/swappiness ]; then echo procsys=rw; else echo procsys=ro; fi
# A container sees its machine's DMI and, through a sysfs mounted outside its network namespace,
# the machine's interfaces: its own identity is its machine-id and what netlink (ip) shows it.
if [ -n "$virt" ]; then uuid=$(cat /etc/machine-id 2>/dev/null)
else uuid=$(cat /sys/class/dmi/id/product_uuid 2>/dev/null || cat /etc/machine-id 2>/dev/null); fi
echo "uuid=$uuid"
if command -v ip >/dev/null 2>&1; then
  macs=$(ip -o link 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "link/ether") print $(i + 1)}')
else macs=$(cat /sys/class/net/*/address 2>/dev/null); fi
echo "macs=$(printf '%s\\n' "$macs" | grep -v '^00:00:00:00:00:00$' | tr '\\n' ' ')"
`;

export function parseFacts(output: string): HostFacts {
  const kv = new Map<string, string>();
  for (const line of output.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) kv.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  // what a host says about itself is printed on the operator's terminal: no control characters
  const get = (k: string) => printable(kv.get(k) ?? '');
  return {
    os: {
      id: get('os_id'),
      versionId: get('os_version_id'),
      codename: get('os_codename'),
      like: get('os_like').split(/\s+/).filter(Boolean),
      prettyName: get('os_pretty'),
    },
    packageManager: (get('pkg') || 'none') as PackageManager,
    initSystem: (get('init') || 'none') as InitSystem,
    kernel: get('kernel'),
    arch: get('arch'),
    cgroupVersion: get('cgroup') === '2' ? 2 : 1,
    cpus: Number(get('cpus')) || 0,
    memoryMB: Math.round((Number(get('mem_kb')) || 0) / 1024),
    hostname: get('hostname'),
    container: get('container') || undefined,
    procSysWritable: get('procsys') === 'rw',
    productUuid: get('uuid'),
    macAddresses: get('macs').split(/\s+/).filter(Boolean),
  };
}

export async function probeFacts(host: Host): Promise<HostFacts> {
  const { stdout } = await host.check(PROBE_SCRIPT);
  return parseFacts(stdout);
}
