#!/usr/bin/env bash
# Records histories for the replay test (test/replay/replay.test.ts):
#   npm run histories:record -- <version-name>           one case's history into test/replay/histories/
#   npm run histories:record -- corpus <version-name>    the replay corpus into test/replay/corpus/<version-name>/
#   npm run histories:record -- fanout <version-name>    fan-out histories into test/replay/fanout-histories/<version-name>/
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source dev/tools/all.sh
ensure_engine_tools
ensure_test_server
rm -rf .build-test
npx tsc -p tsconfig.json --outDir .build-test
if [ "${1:-}" = corpus ]; then
  node .build-test/test/replay/record-corpus.js "${2:-current}"
elif [ "${1:-}" = fanout ]; then
  node .build-test/test/replay/record-fanout-histories.js "${2:-current}"
else
  node .build-test/test/replay/record-histories.js "${1:-current}"
fi
