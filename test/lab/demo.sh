#!/usr/bin/env bash
# `npm run demo`: kubestrap's main job on the bundled lab. Starts three namespace hosts with real
# sshd, then runs validate, facts, plan, apply, and a second apply that must change nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash test/install-deps.sh --if-missing
node dist/test/lab/cli.js sweep

work=$(mktemp -d /tmp/kubestrap-demo.XXXXXX)
node dist/test/lab/cli.js up 3 "$work/lab.yaml" > "$work/lab.json" &
lab=$!
trap 'kill $lab 2>/dev/null; wait $lab 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 600); do [ -s "$work/lab.yaml" ] && break; sleep 0.2; done
[ -s "$work/lab.yaml" ] || { echo "the lab did not start" >&2; exit 1; }

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
step node bin/kubestrap.js validate -i "$work/lab.yaml"
step node bin/kubestrap.js facts -i "$work/lab.yaml"
step node bin/kubestrap.js plan -i "$work/lab.yaml" --skip init,join
step node bin/kubestrap.js apply -i "$work/lab.yaml" --skip init,join
step node bin/kubestrap.js apply -i "$work/lab.yaml" --skip init,join --report "$work/second.json"
changes=$(node -e 'const r=require(process.argv[1]); console.log(r.hosts.reduce((n,h)=>n+h.changes.length,0))' "$work/second.json")
echo
if [ "$changes" = 0 ]; then echo "demo: second apply changed nothing — idempotent"; else echo "demo: second apply made $changes changes" >&2; exit 1; fi
