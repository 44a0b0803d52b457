#!/bin/sh
# Test infrastructure for the end-to-end lab (the product never uses these binaries: real users
# get official packages). No registry serves Kubernetes binaries here, so this builds them from
# Debian bookworm's `kubernetes` source package (1.20.2) with Debian's Go, after the one known fix
# (vendored modern-go/reflect2 1.0.1 crashes under Go >= 1.18: replaced by Debian's 1.0.2).
# The result is cached outside the repository, keyed by version; a second run takes seconds.
# Prints the directory holding bin/.
set -eu
VERSION=1.20.2
CACHE=${KUBESTRAP_LAB_CACHE:-/var/cache/kubestrap-lab}
OUT=$CACHE/kubernetes-$VERSION
BINARIES="kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl kubeadm"
# Only what is not cached yet is built (a cache from before a binary was added stays valid).
missing() { for b in $BINARIES; do [ -x "$OUT/bin/$b" ] || printf '%s ' "$b"; done; }
if [ -z "$(missing)" ]; then echo "$OUT"; exit 0; fi
mkdir -p "$CACHE"
exec 9>"$CACHE/.kubernetes-build.lock"
flock 9
if [ -z "$(missing)" ]; then echo "$OUT"; exit 0; fi
WHAT=$(for b in $(missing); do printf 'cmd/%s ' "$b"; done)

need=""
command -v go >/dev/null || need="$need golang-go"
[ -d /usr/share/gocode/src/github.com/modern-go/reflect2 ] || need="$need golang-github-modern-go-reflect2-dev"
command -v dpkg-source >/dev/null || need="$need dpkg-dev"
command -v make >/dev/null || need="$need make"
command -v rsync >/dev/null || need="$need rsync"
if [ -n "$need" ]; then
  apt-get update -qq >&2
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >&2
fi

W=$CACHE/kubernetes-build
mkdir -p "$W/apt/lists/partial" "$W/src"
MIRROR=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep -v security | head -n1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
# a private apt configuration for the source package: nothing in the machine's /etc changes
echo "deb-src $MIRROR bookworm main" > "$W/apt/sources.list"
APT="-o Dir::Etc::SourceList=$W/apt/sources.list -o Dir::Etc::SourceParts=/nonexistent -o Dir::State::Lists=$W/apt/lists"
# shellcheck disable=SC2086
apt-get $APT update -qq >&2
SRC=$(find "$W/src" -maxdepth 1 -type d -name "kubernetes-*" | head -n1)
if [ -z "$SRC" ]; then
  # shellcheck disable=SC2086
  (cd "$W/src" && apt-get $APT source kubernetes >&2)
  SRC=$(find "$W/src" -maxdepth 1 -type d -name "kubernetes-*" | head -n1)
fi
rm -rf "$SRC/vendor/github.com/modern-go/reflect2"
cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$SRC/vendor/github.com/modern-go/reflect2"

export GOPATH="$W/gopath" GOCACHE="$CACHE/go-build-cache" GOFLAGS=-mod=vendor GO111MODULE=on
mkdir -p "$GOPATH/src/k8s.io"
ln -sfn "$SRC" "$GOPATH/src/k8s.io/kubernetes"
cd "$GOPATH/src/k8s.io/kubernetes"
make WHAT="$WHAT" KUBE_BUILD_PLATFORMS=linux/amd64 >&2
mkdir -p "$OUT/bin"
for b in $(missing); do
  # copy then rename, so an interrupted copy never looks like a cached binary
  cp "_output/local/bin/linux/amd64/$b" "$OUT/bin/.$b.tmp" 2>/dev/null || cp "_output/bin/$b" "$OUT/bin/.$b.tmp"
  mv "$OUT/bin/.$b.tmp" "$OUT/bin/$b"
done
echo "$OUT"
