#!/usr/bin/env bash
# The project's test command (`npm test`): installs what the tests need on a fresh Debian 12
# machine (run as root), builds, then runs the unit and lab suites with vitest.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: the lab (debootstrap, namespaces, ssh client), real openssl, real etcd.
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
command -v openssl >/dev/null || need+=(openssl)
command -v etcd >/dev/null || need+=(etcd-server)
command -v etcdctl >/dev/null || need+=(etcd-client)
command -v ip >/dev/null || need+=(iproute2)
command -v nsenter >/dev/null || need+=(util-linux)
command -v tmux >/dev/null || need+=(tmux)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# npm ci runs the `prepare` script, which compiles TypeScript to dist/.
npm ci --no-audit --no-fund
npx vitest run "$@"
