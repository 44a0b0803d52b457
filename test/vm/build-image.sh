#!/bin/sh
# Builds (once) the disk image of the full-fidelity test VM: Debian bookworm with its own kernel
# (linux-image-amd64) and modules, systemd, sshd, DHCP on eth0 and an active swap file, so
# that swap, kernel modules and machine-wide sysctls are real. Cached outside the repository;
# bump VM_VERSION when this file changes. Prints the image directory.
set -eu
VM_VERSION=2
CACHE=${KUBESTRAP_LAB_CACHE:-/var/cache/kubestrap-lab}
OUT=$CACHE/vm-v$VM_VERSION
if [ -f "$OUT/.ready" ]; then echo "$OUT"; exit 0; fi
mkdir -p "$CACHE"
exec 9>"$CACHE/.vm-build.lock"
flock 9
if [ -f "$OUT/.ready" ]; then echo "$OUT"; exit 0; fi

command -v qemu-system-x86_64 >/dev/null && command -v qemu-img >/dev/null || {
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-system-x86 qemu-utils >&2
}
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
MIRROR=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep -v security | head -n1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
[ -f "$CACHE/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C kubestrap-lab -f "$CACHE/id_ed25519"

BUILD=$OUT.building
rm -rf "$BUILD"
mkdir -p "$BUILD"
ROOT=$BUILD/root
debootstrap --variant=minbase \
  --include=systemd-sysv,udev,dbus,openssh-server,iproute2,kmod,procps,sudo,linux-image-amd64,initramfs-tools,iptables,ca-certificates \
  bookworm "$ROOT" "$MIRROR" >&2

echo kubestrap-vm > "$ROOT/etc/hostname"
: > "$ROOT/etc/machine-id"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n/swapfile none swap sw 0 0\n' > "$ROOT/etc/fstab"
# random data, not zeros: mkfs.ext4 -d would copy zeros as holes, and swapon refuses files with holes
head -c 64M /dev/urandom > "$ROOT/swapfile"
chmod 600 "$ROOT/swapfile"
mkswap "$ROOT/swapfile" >/dev/null
mkdir -p "$ROOT/etc/systemd/network" "$ROOT/root/.ssh"
printf '[Match]\nName=eth0\n\n[Network]\nDHCP=yes\n' > "$ROOT/etc/systemd/network/eth0.network"
chroot "$ROOT" systemctl enable systemd-networkd ssh >/dev/null 2>&1
cp "$CACHE/id_ed25519.pub" "$ROOT/root/.ssh/authorized_keys"
chmod 700 "$ROOT/root/.ssh"; chmod 600 "$ROOT/root/.ssh/authorized_keys"
rm -f "$ROOT"/etc/ssh/ssh_host_*
ssh-keygen -q -t ed25519 -N '' -C kubestrap-vm -f "$ROOT/etc/ssh/ssh_host_ed25519_key"
cp "$ROOT/etc/ssh/ssh_host_ed25519_key.pub" "$BUILD/host_key.pub"
printf 'HostKey /etc/ssh/ssh_host_ed25519_key\nPermitRootLogin prohibit-password\nUseDNS no\n' > "$ROOT/etc/ssh/sshd_config.d/kubestrap-vm.conf"
cp "$ROOT"/boot/vmlinuz-* "$BUILD/vmlinuz"
cp "$ROOT"/boot/initrd.img-* "$BUILD/initrd.img"

truncate -s 2G "$BUILD/disk.raw"
mkfs.ext4 -q -F -d "$ROOT" "$BUILD/disk.raw"
qemu-img convert -f raw -O qcow2 "$BUILD/disk.raw" "$BUILD/disk.qcow2"
rm -rf "$ROOT" "$BUILD/disk.raw"
touch "$BUILD/.ready"
rm -rf "$OUT"
mv "$BUILD" "$OUT"
echo "$OUT"
