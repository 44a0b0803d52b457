#!/bin/sh
# Builds (once) the Debian bookworm root filesystem shared read-only by every lab host, plus the
# lab's SSH client key. Cached outside the repository; bump BASE_VERSION when this file changes.
# Optional arguments NAME EXTRA_PACKAGES build a variant (the e2e nodes' root with containerd)
# in its own cache directory. Prints the root's path.
set -eu
BASE_VERSION=3
CACHE=${KUBESTRAP_LAB_CACHE:-/var/cache/kubestrap-lab}
ROOTFS=$CACHE/${1:-rootfs-v$BASE_VERSION}
PACKAGES=systemd-sysv,udev,dbus,openssh-server,iproute2,kmod,procps,sudo,iputils-ping,ca-certificates,iptables,tini,curl${2:+,$2}
# The lab's sudo-with-password user; a throwaway credential that exists only inside lab hosts.
OPS_PASSWORD=${KUBESTRAP_LAB_OPS_PASSWORD:-lab-ops-sudo}

if [ -f "$ROOTFS/.kubestrap-lab-ready" ]; then echo "$ROOTFS"; exit 0; fi
mkdir -p "$CACHE"
exec 9>"$ROOTFS.lock"
flock 9
if [ -f "$ROOTFS/.kubestrap-lab-ready" ]; then echo "$ROOTFS"; exit 0; fi

if ! command -v debootstrap >/dev/null 2>&1; then
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
fi
MIRROR=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep -v security | head -n1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}

TMP=$ROOTFS.building
rm -rf "$TMP"
debootstrap --variant=minbase --include="$PACKAGES" bookworm "$TMP" "$MIRROR" >&2

[ -f "$CACHE/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C kubestrap-lab -f "$CACHE/id_ed25519"
chmod 600 "$CACHE/id_ed25519"

# Every host gets its own host key at start; none may be shared through the base.
rm -f "$TMP"/etc/ssh/ssh_host_*
cat > "$TMP/etc/ssh/sshd_config.d/kubestrap-lab.conf" <<CONF
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication yes
UseDNS no
MaxStartups 200:30:400
CONF
chroot "$TMP" useradd -m -s /bin/bash -G sudo ops
echo "ops:$OPS_PASSWORD" | chroot "$TMP" chpasswd
chroot "$TMP" useradd -m -s /bin/bash deploy
echo 'deploy ALL=(ALL) NOPASSWD: ALL' > "$TMP/etc/sudoers.d/deploy"
chmod 440 "$TMP/etc/sudoers.d/deploy"
for home in root home/ops home/deploy; do
  mkdir -p "$TMP/$home/.ssh"
  cp "$CACHE/id_ed25519.pub" "$TMP/$home/.ssh/authorized_keys"
  chmod 700 "$TMP/$home/.ssh"; chmod 600 "$TMP/$home/.ssh/authorized_keys"
done
chroot "$TMP" chown -R ops:ops /home/ops/.ssh
chroot "$TMP" chown -R deploy:deploy /home/deploy/.ssh
: > "$TMP/etc/machine-id"
touch "$TMP/.kubestrap-lab-ready"
rm -rf "$ROOTFS"
mv "$TMP" "$ROOTFS"
echo "$ROOTFS"
