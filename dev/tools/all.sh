# Sourced by dev/dev.sh, dev/test.sh, dev/tools.sh, dev/record-histories.sh and bench/run.sh: every tool
# they set up, without Docker, once per machine into a cache outside the clone keyed by version. One file a
# toolchain: common.sh (the cache, progress lines, locks), go.sh (the Temporal CLI, server and UI server),
# maven.sh (the time-skipping test server), npm.sh (the packages), rust.sh (the SDK's bridge with patches/).
# Every step prints what it does and, when done, how long it took: `==> <step> (12 s)`.

SFE_TOOLS_LIB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$SFE_TOOLS_LIB/common.sh"
source "$SFE_TOOLS_LIB/go.sh"
source "$SFE_TOOLS_LIB/maven.sh"
source "$SFE_TOOLS_LIB/npm.sh"
source "$SFE_TOOLS_LIB/rust.sh"

# What every entry point needs: the npm packages, the patched bridge, the Temporal CLI. `npm test`, the
# benchmarks and dev/tools.sh call it as it is (the patched bridge is built first if missing);
# `npm run dev` passes `background`.
ensure_engine_tools() {
  start_temporal_cli
  ensure_node_modules
  ensure_core_bridge "${1:-build}"
  finish_temporal_cli
}
