#!/usr/bin/env bash
# Quick start, first command: sets up and runs the whole system (Temporal + UI, Postgres, worker, API).
# Every setup step prints what it does and how long it took; the stack prints the time to ready.
# `npm run dev -- --cluster` runs the production topology instead: the Temporal server on Postgres (built
# from Go modules once, dev/tools/go.sh ensure_temporal_cluster_tools), two workers and two APIs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source dev/tools/all.sh
SFE_DEV_STARTED_MS="$(tools_now_ms)"
export SFE_DEV_STARTED_MS
cluster=false
for arg in "$@"; do [ "$arg" = --cluster ] && cluster=true; done
# The first run's longest step, building the Temporal CLI, runs in the background while the npm packages
# install and the TypeScript builds (dev/tools/go.sh, start_temporal_cli). The cluster does not run it.
[ "$cluster" = true ] || start_temporal_cli
ensure_node_modules
step_begin "Building the TypeScript sources and the local stack into dist/ (tsc)"
npm run --silent build:dev
step_end "built"
if [ "$cluster" = true ]; then ensure_temporal_cluster_tools; else finish_temporal_cli; fi
# The patched SDK bridge is not waited for: when it is not built yet, this run uses the SDK's prebuilt one
# and builds the patched one in the background at the lowest priority (ensure_core_bridge); the next start
# uses it. It starts only now: next to the Temporal CLI's compile, even at nice 19 and SCHED_IDLE, cargo
# stretched that compile from 4 to 7.5 minutes. SFE_CORE_BRIDGE_BUILD=build waits for it instead, as npm test does.
ensure_core_bridge "${SFE_CORE_BRIDGE_BUILD:-background}"
echo "==> Setup done in $(tools_duration $(($(tools_now_ms) - SFE_DEV_STARTED_MS))); starting the servers" >&2
# exec: the stack keeps this process's id, which the background bridge build watches (it stops with the stack).
exec node dist/dev/local-stack.js "$@"
