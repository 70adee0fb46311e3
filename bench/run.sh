#!/usr/bin/env bash
# Benchmarks, run on demand (never part of npm test): npm run bench:fanout -- --cases 10000
# They measure what production runs, so the SDK bridge with patches/ is built first if it is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source dev/tools/all.sh
ensure_engine_tools build
step_begin "Building the TypeScript sources and the benchmarks into dist/ (tsc)"
npm run --silent build:dev
step_end "built"
name="$1"; shift
entry="dist/bench/$name.js"
exec node "$entry" "$@"
