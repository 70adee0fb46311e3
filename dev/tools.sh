#!/usr/bin/env bash
# Sets up what the engine runs on: the npm packages, the SDK's bridge built with patches/, the Temporal CLI
# and the time-skipping test server (the last three in the per-machine cache). Prints the servers' paths.
# `dev/tools.sh cluster` sets up what the cluster topology runs instead (the Temporal server, its SQL
# tool and schema, the Web UI server; dev/tools/go.sh ensure_temporal_cluster_tools) and prints theirs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source dev/tools/all.sh
if [ "${1:-}" = cluster ]; then
  ensure_temporal_cluster_tools
  echo "TEMPORAL_SERVER_PATH=$TEMPORAL_SERVER_PATH"
  echo "TEMPORAL_SQL_TOOL_PATH=$TEMPORAL_SQL_TOOL_PATH"
  echo "TEMPORAL_SCHEMA_DIR=$TEMPORAL_SCHEMA_DIR"
  echo "TEMPORAL_UI_SERVER_PATH=$TEMPORAL_UI_SERVER_PATH"
  exit 0
fi
ensure_engine_tools build
ensure_test_server
echo "TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH"
echo "TEMPORAL_TEST_SERVER_PATH=$TEMPORAL_TEST_SERVER_PATH"
