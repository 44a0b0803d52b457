#!/usr/bin/env bash
# `npm run demo`: kubestrap's main job on the bundled e2e lab: real Kubernetes 1.20.2 nodes
# (systemd-nspawn hosts with containerd, reachable over SSH). Builds the lab's binaries, images
# and packages on first use (Kubernetes from Debian's source: ~25 min once, then cached), then
# runs validate, facts, plan, apply (host preparation, the control plane on the first node, the
# workers joined, the add-ons: Flannel, kube-proxy, CoreDNS, metrics-server, waited for until
# Ready), shows the nodes, every pod Running and Ready, and `kubectl top nodes` with the real
# kubectl and the admin kubeconfig kubestrap saved (and checks both), and runs a second apply
# that must change nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash test/install-deps.sh --if-missing
node dist/test/e2e/cli.js sweep

work=$(mktemp -d /tmp/kubestrap-demo.XXXXXX)
node dist/test/e2e/cli.js up "$work/lab.yaml" > "$work/lab.json" &
lab=$!
export KUBESTRAP_HOME="$work/home"
trap 'kill $lab 2>/dev/null; wait $lab 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 18000); do [ -s "$work/lab.yaml" ] && break; kill -0 $lab 2>/dev/null || break; sleep 0.2; done
[ -s "$work/lab.yaml" ] || { echo "the e2e lab did not start" >&2; exit 1; }

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
step cat "$work/lab.yaml"
step node bin/kubestrap.js validate -i "$work/lab.yaml"
step node bin/kubestrap.js facts -i "$work/lab.yaml"
step node bin/kubestrap.js plan -i "$work/lab.yaml"
step node bin/kubestrap.js apply -i "$work/lab.yaml" --wait-addons 5m | tee "$work/apply.out"
kubeconfig=$(sed -n 's/^admin kubeconfig: \([^ ]*\).*/\1/p' "$work/apply.out")
step kubectl --kubeconfig "$kubeconfig" wait --for=condition=Ready node --all --timeout=240s
step kubectl --kubeconfig "$kubeconfig" get nodes -o wide
step node bin/kubestrap.js apply -i "$work/lab.yaml" --report "$work/second.json"
changes=$(node -e 'const r=require(process.argv[1]); console.log(r.hosts.reduce((n,h)=>n+h.changes.length,0))' "$work/second.json")
nodes=$(kubectl --kubeconfig "$kubeconfig" get nodes --no-headers | wc -l)
# the kubelet publishes its static pods (the control plane's four) as mirror pods a minute or two after it starts them
for _ in $(seq 1 90); do
  [ "$(kubectl --kubeconfig "$kubeconfig" -n kube-system get pods -l tier=control-plane --no-headers 2>/dev/null | wc -l)" -ge 4 ] && break
  sleep 2
done
# and a mirror pod just published is Pending until the kubelet posts its status (seen: 2 s old, Pending)
step kubectl --kubeconfig "$kubeconfig" -n kube-system wait --for=condition=Ready pod -l tier=control-plane --timeout=120s
# metrics-server serves a node's figures once it has scraped it twice (15 s apart)
for _ in $(seq 1 60); do
  [ "$(kubectl --kubeconfig "$kubeconfig" top nodes --no-headers 2>/dev/null | grep -c 'm ')" = "$nodes" ] && break
  sleep 2
done
step kubectl --kubeconfig "$kubeconfig" get pods -A -o wide
step kubectl --kubeconfig "$kubeconfig" top nodes
echo
# every pod Running with all its containers ready (READY n/n), one `top` row per node
not_ready=$(kubectl --kubeconfig "$kubeconfig" get pods -A --no-headers | awk '{ split($3, r, "/"); if ($4 != "Running" || r[1] != r[2]) print $1 "/" $2 " " $3 " " $4 }')
rows=$(kubectl --kubeconfig "$kubeconfig" top nodes --no-headers | grep -c 'm ')
if [ -n "$not_ready" ]; then echo "demo: pods not Running and Ready:" >&2; echo "$not_ready" >&2; exit 1; fi
if [ "$rows" != "$nodes" ]; then echo "demo: kubectl top nodes printed $rows rows for $nodes nodes" >&2; exit 1; fi
echo "demo: every pod Running and Ready; kubectl top nodes answers for all $nodes nodes"
if [ "$changes" = 0 ]; then echo "demo: second apply changed nothing — idempotent"; else echo "demo: second apply made $changes changes" >&2; exit 1; fi
