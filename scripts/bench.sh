#!/usr/bin/env bash
# Benchmarks, run on demand (never part of npm test): npm run bench:fanout -- --cases 10000
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/tools.sh
ensure_engine_tools
npm run --silent build
name="$1"; shift
exec node "dist/scripts/bench-$name.js" "$@"
