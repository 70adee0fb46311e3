#!/usr/bin/env bash
# Quick start, second command: sets up and passes every test (lint, types, unit, workflow, integration, browser).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source dev/tools/all.sh
source dev/tools/browser.sh
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
# The production build, as the image makes it; Jest's global setup then builds it with the local stack and benchmarks.
npm run --silent build
echo "==> Tests" >&2
# Workers the tests create in their own process run without the SDK's stack-capturing promise hook, as the
# worker's production process does (WORKER_WORKFLOW_STACK_TRACES, worker/worker.ts): Jest gives a test a copy
# of process.env, which the SDK's workflow threads never see, so the variable must come from here.
WORKER_WORKFLOW_STACK_TRACES=off npx jest "$@"
