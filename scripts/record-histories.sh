#!/usr/bin/env bash
# Records a case-workflow history for the replay test: npm run histories:record -- <version-name>
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/tools.sh
ensure_engine_tools
ensure_test_server
rm -rf .build-test
npx tsc -p tsconfig.json --outDir .build-test
node .build-test/test/replay/record-histories.js "${1:-current}"
