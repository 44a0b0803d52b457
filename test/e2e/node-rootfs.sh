#!/bin/sh
# The root filesystem of the e2e lab's Kubernetes nodes: the lab's Debian base plus what a node
# gets before kubestrap arrives (containerd, runc and the CNI plugins from Debian, the tools the
# kubelet calls), and one boot unit standing in for what a real machine's boot gives it:
# writable cgroup hierarchies (systemd-nspawn mounts the cgroup v1 controllers read-only; the
# kubelet and runc create groups below the node's own) and a shared root mount (the kubelet's
# volume mounts must propagate into containers) and a writable /proc/sys/net (the node has its
# own network namespace; nspawn mounts all of /proc/sys read-only).
# Cached outside the repository; bump NODE_VERSION when this file changes. Prints its path.
set -eu
NODE_VERSION=3
CACHE=${KUBESTRAP_LAB_CACHE:-/var/cache/kubestrap-lab}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(sh "$HERE/../lab/base-rootfs.sh" "e2e-rootfs-v$NODE_VERSION" containerd,runc,containernetworking-plugins,conntrack,socat,ethtool,ebtables,iptables,kmod | tail -n1)
if [ -f "$ROOT/.kubestrap-e2e-node" ]; then echo "$ROOT"; exit 0; fi
exec 9>"$ROOT.lock"
flock 9
if [ -f "$ROOT/.kubestrap-e2e-node" ]; then echo "$ROOT"; exit 0; fi

cat > "$ROOT/usr/local/sbin/kubestrap-lab-node-setup" <<'SCRIPT'
#!/bin/sh
set -eu
mount -o remount,bind,rw /sys/fs/cgroup
for hierarchy in /sys/fs/cgroup/*/; do mount -o remount,bind,rw "$hierarchy"; done
mount --make-rshared /
# the node's network namespace is its own: its net.* settings are the node's to change
mount --bind /proc/sys/net /proc/sys/net
mount -o remount,bind,rw /proc/sys/net
SCRIPT
chmod 755 "$ROOT/usr/local/sbin/kubestrap-lab-node-setup"
cat > "$ROOT/etc/systemd/system/kubestrap-lab-node.service" <<'UNIT'
[Unit]
Description=kubestrap e2e lab: writable cgroups and shared root mount, as on a real machine
DefaultDependencies=no
Before=containerd.service kubelet.service sysinit.target
After=local-fs.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/kubestrap-lab-node-setup

[Install]
WantedBy=sysinit.target
UNIT
ln -sf /etc/systemd/system/kubestrap-lab-node.service "$ROOT/etc/systemd/system/sysinit.target.wants/kubestrap-lab-node.service"
# An air-gapped site: no Debian mirror and no DNS server are reachable from the lab, so none is
# configured (apt and name lookups fail at once instead of waiting for timeouts).
: > "$ROOT/etc/apt/sources.list"
echo '# kubestrap e2e lab: no DNS server (names come from /etc/hosts)' > "$ROOT/etc/resolv.conf"
# where the upstream kubernetes-cni package puts the plugins (and containerd looks by default)
mkdir -p "$ROOT/opt/cni"
ln -sfn /usr/lib/cni "$ROOT/opt/cni/bin"
touch "$ROOT/.kubestrap-e2e-node"
echo "$ROOT"
