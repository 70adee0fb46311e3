#!/usr/bin/env bash
# Builds or fetches the Temporal CLI and the time-skipping test server into the per-machine cache.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/tools.sh
ensure_temporal_cli
ensure_test_server
echo "TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH"
echo "TEMPORAL_TEST_SERVER_PATH=$TEMPORAL_TEST_SERVER_PATH"
