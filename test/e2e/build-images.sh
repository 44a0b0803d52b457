#!/bin/sh
# Test infrastructure for the end-to-end lab: the container images a 1.20.2 node needs, built
# from the binaries of build-kubernetes.sh and Debian packages, because no registry is reachable
# here. Each image is a one-layer docker-archive tarball (what `ctr images import` reads) named
# under registry.local, so the lab cluster uses an image mirror exactly like a firewalled site.
# Cached outside the repository, keyed by Kubernetes version and IMAGES_VERSION (bump it when
# this file changes). Prints the directory holding the tarballs.
set -eu
IMAGES_VERSION=2
K8S=1.20.2
CACHE=${KUBESTRAP_LAB_CACHE:-/var/cache/kubestrap-lab}
OUT=$CACHE/images-$K8S-v$IMAGES_VERSION
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -f "$OUT/.ready" ]; then echo "$OUT"; exit 0; fi
mkdir -p "$CACHE"
exec 9>"$OUT.lock"
flock 9
if [ -f "$OUT/.ready" ]; then echo "$OUT"; exit 0; fi

BIN=$(sh "$HERE/build-kubernetes.sh")/bin
need=""
command -v gcc >/dev/null || need="$need gcc"
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || need="$need libc6-dev"
command -v etcd >/dev/null || need="$need etcd-server"
command -v etcdctl >/dev/null || need="$need etcd-client"
command -v xtables-nft-multi >/dev/null || need="$need iptables"
command -v conntrack >/dev/null || need="$need conntrack"
if [ -n "$need" ]; then
  apt-get update -qq >&2
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >&2
fi

W=$OUT.building
rm -rf "$W"
mkdir -p "$W"

. "$HERE/image-lib.sh"

# pause: built from the Kubernetes source tree (static, like the upstream image)
PAUSE_C=$(find "$CACHE/kubernetes-build/src" -path '*/build/pause/linux/pause.c' | head -n1)
mkdir -p "$W/pause.root"
gcc -Os -static -DVERSION=v3.2-kubestrap-lab -o "$W/pause.root/pause" "$PAUSE_C"
strip "$W/pause.root/pause"
image pause 3.2 '["/pause"]'

for c in kube-apiserver kube-controller-manager kube-scheduler; do
  mkdir -p "$W/$c.root/usr/local/bin"
  cp "$BIN/$c" "$W/$c.root/usr/local/bin/$c"
  image "$c" "v$K8S" "[\"/usr/local/bin/$c\"]"
done

# kube-proxy needs iptables (nft backend, like the nodes), its extensions and conntrack
mkdir -p "$W/kube-proxy.root/usr/local/bin" "$W/kube-proxy.root/usr/sbin"
cp "$BIN/kube-proxy" "$W/kube-proxy.root/usr/local/bin/kube-proxy"
add_with_libs "$W/kube-proxy.root" /usr/sbin/xtables-nft-multi /usr/sbin/conntrack /usr/lib/x86_64-linux-gnu/xtables/*.so
for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  ln -s xtables-nft-multi "$W/kube-proxy.root/usr/sbin/$t"
done
image kube-proxy "v$K8S" '["/usr/local/bin/kube-proxy"]'

# etcd: Debian's 3.4 server and client, tagged with the version it is
ETCD_VERSION=$(etcd --version | sed -n 's/^etcd Version: //p')
add_with_libs "$W/etcd.root" /usr/bin/etcd /usr/bin/etcdctl
mkdir -p "$W/etcd.root/usr/local/bin"
ln -s /usr/bin/etcd "$W/etcd.root/usr/local/bin/etcd"
ln -s /usr/bin/etcdctl "$W/etcd.root/usr/local/bin/etcdctl"
image etcd "$ETCD_VERSION" '["/usr/bin/etcd"]'

# busybox: Debian's static build, for test pods
add_busybox "$W/busybox.root"
image busybox 1 '["/bin/sh"]'

# haproxy: Debian's, for kubestrap's node-local API load balancer (its two libraries that are
# not on this machine come from their packages, the rest as ldd finds them here)
mkdir -p "$W/haproxy.debs" "$W/haproxy.root"
(cd "$W/haproxy.debs" && apt-get download haproxy liblua5.3-0 libopentracing-c-wrapper0 libopentracing1 >&2)
for deb in "$W"/haproxy.debs/*.deb; do dpkg-deb -x "$deb" "$W/haproxy.root"; done
LD_LIBRARY_PATH=$W/haproxy.root/usr/lib/x86_64-linux-gnu ldd "$W/haproxy.root/usr/sbin/haproxy" | awk '/=>/ {print $3} /^\t\// {print $1}' | while read -r lib; do
  case $lib in "$W"/*) continue ;; esac
  mkdir -p "$W/haproxy.root$(dirname "$lib")"
  cp -L "$lib" "$W/haproxy.root$lib"
done
rm -rf "$W/haproxy.debs" "$W/haproxy.root/usr/share" "$W/haproxy.root/etc/init.d"
HAPROXY_VERSION=$(LD_LIBRARY_PATH=$W/haproxy.root/usr/lib/x86_64-linux-gnu "$W/haproxy.root/usr/sbin/haproxy" -v 2>/dev/null | sed -n 's/^HAProxy version \([0-9]*\.[0-9]*\).*/\1/p' || true)
image haproxy "${HAPROXY_VERSION:-2.6}" '["/usr/sbin/haproxy"]'

printf '%s\n' "$ETCD_VERSION" > "$W/etcd-version"
touch "$W/.ready"
rm -rf "$OUT"
mv "$W" "$OUT"
echo "$OUT"
