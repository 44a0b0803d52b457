#!/bin/sh
# Starts a systemd lab host: systemd-nspawn boots the host's overlay root with systemd as PID 1,
# in the host's network namespace and its own cgroup (created by lab.ts in every hierarchy).
# Runs in a private mount namespace, so the overlay disappears with the host.
# Arguments: ROOTFS HOSTDIR HOSTNAME NETNS [--bind=... | --bind-ro=... ...]
set -eu
ROOTFS=$1; DIR=$2; NAME=$3; NETNS=$4; shift 4
M=$DIR/merged
mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$DIR/upper,workdir=$DIR/work" "$M"
for hierarchy in systemd cpu cpuacct cpuset memory devices freezer blkio pids; do
  echo $$ > "/sys/fs/cgroup/$hierarchy/$NETNS/cgroup.procs"
done
# --keep-unit: stay in the cgroup we are in (no systemd on this machine to ask for a scope).
# The network namespace is the host's own, so it gets CAP_NET_ADMIN there (CNI plugins,
# kube-proxy and sysctl net.* need it; nspawn drops it unless told). CAP_SYSLOG lets the kubelet's
# OOM watcher read /dev/kmsg (the kubelet does not start without it). runc gives every container
# its own session keyring, which nspawn's default system-call filter refuses (@keyring). /dev/kmsg is read by the kubelet's OOM
# watcher. Machine-wide capabilities (sys_module, sys_time, sys_resource, ...) stay dropped.
# SYSTEMD_NSPAWN_LOCK=0: no lock files left on this machine (each host has its own root anyway).
exec env SYSTEMD_NSPAWN_LOCK=0 systemd-nspawn --quiet --boot --register=no --keep-unit \
  --machine="$NETNS" --hostname="$NAME" --network-namespace-path="/run/netns/$NETNS" \
  --resolv-conf=off --timezone=off --link-journal=no --bind-ro=/dev/kmsg --capability=CAP_NET_ADMIN,CAP_SYSLOG --system-call-filter=@keyring -D "$M" "$@"
