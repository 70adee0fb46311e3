#!/usr/bin/env bash
# Benchmarks, run on demand (never part of npm test): npm run bench:fanout -- --cases 10000
# They measure what production runs, so the SDK bridge with patches/ is built first if it is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/tools.sh
ensure_engine_tools build
step_begin "Building the TypeScript sources into dist/ (tsc)"
npm run --silent build
step_end "built"
name="$1"; shift
exec node "dist/scripts/bench-$name.js" "$@"
