#!/usr/bin/env bash
# Sets up what the engine runs on: the npm packages, the SDK's bridge built with patches/, the Temporal CLI
# and the time-skipping test server (the last three in the per-machine cache). Prints the servers' paths.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/tools.sh
ensure_engine_tools build
ensure_test_server
echo "TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH"
echo "TEMPORAL_TEST_SERVER_PATH=$TEMPORAL_TEST_SERVER_PATH"
