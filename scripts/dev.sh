#!/usr/bin/env bash
# Quick start, first command: sets up and runs the whole system (Temporal + UI, Postgres, worker, API).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/tools.sh
ensure_engine_tools
echo "==> Building" >&2
npm run --silent build
exec node dist/scripts/local-stack.js
