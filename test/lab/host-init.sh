#!/bin/sh
# PID 1 of a namespace lab host (new mount/uts/ipc/pid namespaces inside the host's netns).
# Builds the host's root from an overlay over the shared base, protects the real machine, and
# runs sshd. Arguments: ROOTFS HOSTDIR HOSTNAME
set -eu
ROOTFS=$1; DIR=$2; NAME=$3
M=$DIR/merged
mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$DIR/upper,workdir=$DIR/work" "$M"
mount -t proc proc "$M/proc"
# Machine-wide kernel settings must not be writable from a lab host; /proc/sys/net is per netns.
mount --bind "$M/proc/sys" "$M/proc/sys"
mount --bind "$M/proc/sys/net" "$M/proc/sys/net"
mount -o remount,bind,ro "$M/proc/sys"
if [ -e "$M/proc/sysrq-trigger" ]; then mount --bind /dev/null "$M/proc/sysrq-trigger"; fi
mount -t sysfs -o ro sysfs "$M/sys"
mount -t tmpfs -o mode=755,size=16m tmpfs "$M/dev"
for d in null zero random urandom tty full; do touch "$M/dev/$d"; mount --bind "/dev/$d" "$M/dev/$d"; done
mkdir -p "$M/dev/pts" "$M/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$M/dev/pts"
ln -s pts/ptmx "$M/dev/ptmx"
mount -t tmpfs -o mode=755,size=64m tmpfs "$M/run"
mkdir -p "$M/run/sshd" "$M/run/lock"
mount -t tmpfs -o mode=1777,size=256m tmpfs "$M/tmp"
hostname "$NAME"
cd "$M"
mkdir -p .oldroot
pivot_root . .oldroot
cd /
umount -l /.oldroot
rmdir /.oldroot
exec env -i container=kubestrap-lab PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  setpriv --bounding-set -sys_module,-sys_time,-sys_boot,-sys_rawio,-syslog,-wake_alarm \
  /usr/bin/tini -s -- /usr/sbin/sshd -D -e
