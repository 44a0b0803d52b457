# Shell functions the e2e lab's image builders share (sourced, not run): an image is a one-layer
# docker-archive tarball, what `ctr images import` reads, named under registry.local.
# Callers set W (their work directory).

# Copies binaries and the shared libraries they load (as listed by ldd) into an image root.
add_with_libs() {
  root=$1; shift
  for f in "$@"; do
    mkdir -p "$root$(dirname "$f")"
    cp -L "$f" "$root$f"
    ldd "$f" 2>/dev/null | awk '/=>/ {print $3} /^\t\// {print $1}' | while read -r lib; do
      [ -f "$lib" ] || continue
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done
  done
}

# Debian's static busybox with every applet linked, into an image root (a shell and coreutils).
add_busybox() {
  root=$1
  if [ ! -f "$W/busybox-static.bin" ]; then
    (cd "$W" && apt-get download busybox-static >&2)
    dpkg-deb -x "$W"/busybox-static_*.deb "$W/busybox.deb"
    cp "$W/busybox.deb/bin/busybox" "$W/busybox-static.bin"
    rm -rf "$W/busybox.deb" "$W"/busybox-static_*.deb
  fi
  mkdir -p "$root/bin"
  cp "$W/busybox-static.bin" "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
  done
}

# image NAME TAG ENTRYPOINT_JSON [OUT]: packs $W/NAME.root into OUT (default $W/NAME.tar) as registry.local/NAME:TAG.
image() {
  name=$1; tag=$2; entrypoint=$3; out=${4:-$W/$name.tar}
  root=$W/$name.root; box=$W/$name.box
  mkdir -p "$box" "$root/tmp" "$root/etc"
  chmod 1777 "$root/tmp"
  [ -f "$root/etc/passwd" ] || printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
  [ -f "$root/etc/group" ] || printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
  tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$root" -cf "$box/layer.tar" .
  diff=$(sha256sum "$box/layer.tar" | cut -d' ' -f1)
  printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Entrypoint":%s},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$entrypoint" "$diff" > "$box/config.json"
  cfg=$(sha256sum "$box/config.json" | cut -d' ' -f1)
  mv "$box/config.json" "$box/$cfg.json"
  printf '[{"Config":"%s.json","RepoTags":["registry.local/%s:%s"],"Layers":["layer.tar"]}]' "$cfg" "$name" "$tag" > "$box/manifest.json"
  tar -C "$box" -cf "$out" .
  rm -rf "$box" "$root"
}
