#!/usr/bin/env bash
# Installs what kubestrap's tests and demo need on a fresh Debian 12 machine (as root):
# Debian packages for the lab and the real components the tests use, then npm dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
command -v openssl >/dev/null || need+=(openssl)
command -v etcd >/dev/null || need+=(etcd-server)
command -v etcdctl >/dev/null || need+=(etcd-client)
command -v ip >/dev/null || need+=(iproute2)
command -v nsenter >/dev/null || need+=(util-linux)
command -v tmux >/dev/null || need+=(tmux)
command -v dpkg-scanpackages >/dev/null || need+=(dpkg-dev)
command -v curl >/dev/null || need+=(curl)
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
# the Distribution registry and skopeo: the registry the air-gap tests pull from, and what loads it
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v skopeo >/dev/null || need+=(skopeo)
# rpmbuild and createrepo_c: the yum repository the bundle's rpm packages come from
command -v rpmbuild >/dev/null || need+=(rpm)
command -v createrepo_c >/dev/null || need+=(createrepo-c)
# zsh and fish: the shells whose completion scripts the tests run
command -v zsh >/dev/null || need+=(zsh)
command -v fish >/dev/null || need+=(fish)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# npm ci runs the `prepare` script, which compiles TypeScript to dist/.
if [ "${1:-}" = --if-missing ] && [ -d node_modules ] && [ -f dist/src/cli/main.js ]; then exit 0; fi
npm ci --no-audit --no-fund
