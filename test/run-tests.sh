#!/usr/bin/env bash
# The project's test command (`npm test`): installs what the tests need, builds, lints (--lint),
# then runs the unit and lab suites with vitest and ends with one plain summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/install-deps.sh
if [ "${1:-}" = --lint ]; then
  shift
  npm run --silent lint
fi
results=$(mktemp /tmp/kubestrap-test-results.XXXXXX.json)
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@" || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$results" || true
rm -f "$results"
exit "$status"
