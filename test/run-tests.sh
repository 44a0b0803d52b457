#!/usr/bin/env bash
# The project's test command (`npm test`): installs what the tests need, builds, then runs the
# unit and lab suites with vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/install-deps.sh
npx vitest run "$@"
