#!/bin/sh
# Test infrastructure for the e2e lab: images of the add-ons kubestrap deploys (CoreDNS,
# metrics-server, Flannel and its CNI plugin) and of agnhost (Kubernetes' e2e test image), made
# from the real binaries of the lab-addons directory (built from their upstream sources; its
# PROVENANCE.md says how), each checked against its SHA256SUMS, and packed under the names
# kubestrap renders for the lab (the caller gives them). The product never ships or pulls them.
# Usage: build-addon-images.sh ADDONS_DIR NAME:TAG...  (NAME: coredns, metrics-server, flannel,
# flannel-cni-plugin, agnhost). Cached by the binaries' checksums and the names; prints the
# directory holding NAME.tar for each.
set -eu
ADDON_IMAGES_VERSION=1
ADDONS=$1; shift
CACHE=${KUBESTRAP_LAB_CACHE:-/var/cache/kubestrap-lab}
HERE=$(cd "$(dirname "$0")" && pwd)
for f in SHA256SUMS coredns-1.8.0.xz metrics-server-v0.9.0.xz flanneld-v0.28.9.xz flannel-cni-plugin-v1.9.1-flannel1.xz agnhost-2.25.xz; do
  [ -f "$ADDONS/$f" ] || { echo "the e2e lab needs $f in $ADDONS (the add-on binaries built from their upstream sources; set KUBESTRAP_LAB_ADDONS to their directory)" >&2; exit 1; }
done
KEY=$( (cat "$ADDONS/SHA256SUMS"; echo "$ADDON_IMAGES_VERSION $*") | sha256sum | cut -c1-16)
OUT=$CACHE/addon-images-$KEY
if [ -f "$OUT/.ready" ]; then echo "$OUT"; exit 0; fi
mkdir -p "$CACHE"
exec 9>"$OUT.lock"
flock 9
if [ -f "$OUT/.ready" ]; then echo "$OUT"; exit 0; fi
command -v xz >/dev/null || { apt-get update -qq >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xz-utils >&2; }

W=$OUT.building
rm -rf "$W"
mkdir -p "$W/bin"
. "$HERE/image-lib.sh"

# binary NAME: the lab-addons binary, decompressed and checked against SHA256SUMS
binary() {
  xz -dc "$ADDONS/$1.xz" > "$W/bin/$1"
  (cd "$W/bin" && grep " $1\$" "$ADDONS/SHA256SUMS" | sha256sum -c --quiet -) || { echo "$ADDONS/$1.xz does not match SHA256SUMS" >&2; exit 1; }
  chmod 755 "$W/bin/$1"
  echo "$W/bin/$1"
}

for named in "$@"; do
  name=${named%%:*}; tag=${named#*:}
  root=$W/$name.root
  mkdir -p "$root"
  case $name in
    coredns)
      cp "$(binary coredns-1.8.0)" "$root/coredns"
      image coredns "$tag" '["/coredns"]' "$W/coredns.tar" ;;
    metrics-server)
      cp "$(binary metrics-server-v0.9.0)" "$root/metrics-server"
      image metrics-server "$tag" '["/metrics-server"]' "$W/metrics-server.tar" ;;
    flannel)
      mkdir -p "$root/opt/bin" "$root/usr/sbin"
      cp "$(binary flanneld-v0.28.9)" "$root/opt/bin/flanneld"
      # STAND-IN for flannel's install-conf (a small Go program of flannel's image, not among the
      # lab's binaries): the same atomic copy of the CNI configuration, in busybox's shell
      printf '#!/bin/sh\n# STAND-IN for flannel'"'"'s install-conf (kubestrap e2e lab): SRC DEST, copied atomically\nset -e\nt="$(dirname "$2")/.$(basename "$2").tmp"\ncp "$1" "$t"\nmv "$t" "$2"\n' > "$root/opt/bin/install-conf"
      chmod 755 "$root/opt/bin/install-conf"
      add_busybox "$root"
      # --ip-masq: Debian's iptables (nft backend, like the nodes), its extensions
      add_with_libs "$root" /usr/sbin/xtables-nft-multi /usr/lib/x86_64-linux-gnu/xtables/*.so
      for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do ln -sf xtables-nft-multi "$root/usr/sbin/$t"; done
      image flannel "$tag" '["/opt/bin/flanneld"]' "$W/flannel.tar" ;;
    flannel-cni-plugin)
      cp "$(binary flannel-cni-plugin-v1.9.1-flannel1)" "$root/flannel"
      add_busybox "$root"
      image flannel-cni-plugin "$tag" '["/bin/sh"]' "$W/flannel-cni-plugin.tar" ;;
    agnhost)
      cp "$(binary agnhost-2.25)" "$root/agnhost"
      add_busybox "$root"
      image agnhost "$tag" '["/agnhost"]' "$W/agnhost.tar" ;;
    *) echo "build-addon-images.sh: no lab image for $name" >&2; exit 1 ;;
  esac
done
rm -rf "$W/bin" "$W/busybox-static.bin"
touch "$W/.ready"
rm -rf "$OUT"
mv "$W" "$OUT"
echo "$OUT"
