#!/usr/bin/env bash
# Quick start, second command: sets up and passes every test (lint, types, unit, workflow, integration, browser).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/tools.sh
source scripts/lib/browser.sh
ensure_engine_tools
ensure_test_server
# The cluster suite (test/integration/cluster.test.ts) runs the Temporal server on Postgres, built once per machine.
ensure_temporal_cluster_tools
# The browser tests (test/browser) drive a headless Chromium: installed here when missing (Debian, as root).
ensure_chromium
echo "==> Lint" >&2
npx eslint .
echo "==> Type check" >&2
npx tsc -p tsconfig.json --noEmit
echo "==> Build" >&2
npm run --silent build
echo "==> Tests" >&2
npx jest "$@"
