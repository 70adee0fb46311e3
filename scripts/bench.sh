#!/usr/bin/env bash
# Benchmarks, run on demand (never part of npm test): npm run bench:fanout -- --cases 10000
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/tools.sh
ensure_node_modules
ensure_core_bridge
ensure_temporal_cli
npm run --silent build
name="$1"; shift
exec node "dist/scripts/bench-$name.js" "$@"
