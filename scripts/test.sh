#!/usr/bin/env bash
# Quick start, second command: sets up and passes every test (lint, types, unit, workflow, integration).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/tools.sh
ensure_engine_tools
ensure_test_server
echo "==> Lint" >&2
npx eslint .
echo "==> Type check" >&2
npx tsc -p tsconfig.json --noEmit
echo "==> Build" >&2
npm run --silent build
echo "==> Tests" >&2
npx jest "$@"
