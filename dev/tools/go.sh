# Sourced through dev/tools/all.sh. The Go builds, each once per machine into the tools cache: the Temporal CLI
# (dev server + Web UI) for `npm run dev` and the tests, and for the cluster topology (`npm run dev -- --cluster`,
# the cluster tests) the Temporal server, its SQL schema tool and the standalone Web UI server. Exports
# TEMPORAL_CLI_PATH, and TEMPORAL_SERVER_PATH, TEMPORAL_SQL_TOOL_PATH, TEMPORAL_SCHEMA_DIR, TEMPORAL_UI_SERVER_PATH.

TEMPORAL_CLI_VERSION="${TEMPORAL_CLI_VERSION:-1.5.1}"
# The cluster topology: the Temporal server and its SQL schema tool, and the standalone Web UI server of the
# version the CLI above embeds. docker-compose.yml runs the same versions (test/unit/compose.test.ts), and
# dev/temporal-cluster/tools.ts names them too.
TEMPORAL_SERVER_VERSION="${TEMPORAL_SERVER_VERSION:-1.29.1}"
TEMPORAL_UI_SERVER_VERSION="${TEMPORAL_UI_SERVER_VERSION:-2.42.1}"
# The oldest CLI whose `server start-dev` has everything the project uses (--search-attribute, --db-filename, UI).
TEMPORAL_CLI_MIN_VERSION="1.1.0"

build_temporal_cli() {
  local dest="$SFE_TOOLS_DIR/temporal-cli-$TEMPORAL_CLI_VERSION" started cpu
  [ -x "$dest/temporal" ] && return 0
  local tmp="$dest.tmp.$$" pkg="github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_CLI_VERSION"
  # go's own output goes to the log (start_temporal_cli), the progress lines to stderr.
  local log="${TEMPORAL_CLI_BUILD_LOG:-/dev/stderr}"
  # Under the lock: what an interrupted build left is nobody's.
  rm -rf "$dest".tmp.* && mkdir -p "$tmp"
  # Two passes, each timed. First the modules: `go install -n` loads every package without compiling,
  # fetching modules as many at a time as GOMAXPROCS allows; fetching waits on the network, not the CPU, so 16
  # rather than the cores. Then the compile at the usual parallelism.
  tools_read_cpu
  started="$(tools_now_ms)" cpu="$TOOLS_CPU_MS"
  echo "    Temporal CLI: downloading its Go modules ..." >&2
  if ! with_heartbeat "Temporal CLI: downloading" to_log "$log" env GOMAXPROCS=16 go install -n "$pkg"; then
    rm -rf "$tmp"
    tools_die "downloading the Temporal CLI's Go modules failed (see $log)"
  fi
  tools_read_cpu
  echo "    Temporal CLI: Go modules downloaded ($(tools_took "$started" $((TOOLS_CPU_MS - cpu)))); compiling ..." >&2
  started="$(tools_now_ms)" cpu="$TOOLS_CPU_MS"
  # Without debug information (-s -w, as Temporal's own release binaries; no DWARF from the compiler either):
  # the dev server runs the same, stack traces keep their file and line, and the compile and link do less.
  if ! with_heartbeat "Temporal CLI: compiling" \
      to_log "$log" env GOBIN="$tmp" go install -gcflags=all=-dwarf=false \
      -ldflags "-s -w -X github.com/temporalio/cli/temporalcli.Version=$TEMPORAL_CLI_VERSION" "$pkg"; then
    rm -rf "$tmp"
    tools_die "building the Temporal CLI v$TEMPORAL_CLI_VERSION with 'go install' failed (see $log)"
  fi
  tools_read_cpu
  echo "    Temporal CLI: compiled ($(tools_took "$started" $((TOOLS_CPU_MS - cpu))))" >&2
  rm -rf "$dest" && mv "$tmp" "$dest"
}

# go_install_timed <what> <GOBIN> <log> <package@version...>: the modules first (as build_temporal_cli, with
# GOMAXPROCS=16 for the downloads), then the compile, each pass timed; without debug information and with
# -trimpath, as Temporal's release binaries. On failure it prints the end of the log and returns 1.
go_install_timed() {
  local what="$1" bin="$2" log="$3" started cpu
  shift 3
  tools_read_cpu
  started="$(tools_now_ms)" cpu="$TOOLS_CPU_MS"
  echo "    $what: downloading its Go modules ..." >&2
  with_heartbeat "$what: downloading" to_log "$log" env GOMAXPROCS=16 go install -n "$@" ||
    { tail -n 30 "$log" >&2; echo "error: downloading the Go modules of $what failed (the end of $log is above)" >&2; return 1; }
  tools_read_cpu
  echo "    $what: Go modules downloaded ($(tools_took "$started" $((TOOLS_CPU_MS - cpu)))); compiling ..." >&2
  started="$(tools_now_ms)" cpu="$TOOLS_CPU_MS"
  with_heartbeat "$what: compiling" to_log "$log" env GOBIN="$bin" go install -trimpath -gcflags=all=-dwarf=false -ldflags "-s -w" "$@" ||
    { tail -n 30 "$log" >&2; echo "error: building $what with 'go install' failed (the end of $log is above)" >&2; return 1; }
  tools_read_cpu
  echo "    $what: compiled ($(tools_took "$started" $((TOOLS_CPU_MS - cpu))))" >&2
}

# The Temporal server (cmd/server) and its schema tool (cmd/tools/sql) of one version, with the PostgreSQL
# schema files of that version from the module, into temporal-server-<version>/: temporal-server,
# temporal-sql-tool, schema/postgresql/v12/{temporal,visibility}/versioned.
build_temporal_server() {
  local dest="$SFE_TOOLS_DIR/temporal-server-$TEMPORAL_SERVER_VERSION"
  [ -x "$dest/temporal-server" ] && [ -x "$dest/temporal-sql-tool" ] && [ -d "$dest/schema/postgresql/v12" ] && return 0
  local tmp="$dest.tmp.$$" module="go.temporal.io/server@v$TEMPORAL_SERVER_VERSION" log="$dest.log" dir
  rm -rf "$dest".tmp.* && mkdir -p "$tmp/bin"
  : >"$log"
  go_install_timed "Temporal server v$TEMPORAL_SERVER_VERSION" "$tmp/bin" "$log" \
    "go.temporal.io/server/cmd/server@v$TEMPORAL_SERVER_VERSION" "go.temporal.io/server/cmd/tools/sql@v$TEMPORAL_SERVER_VERSION" ||
    { rm -rf "$tmp"; tools_die "the Temporal server v$TEMPORAL_SERVER_VERSION was not built"; }
  dir="$(go mod download -json "$module" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$dir/schema/postgresql/v12" ] || { rm -rf "$tmp"; tools_die "the module $module has no schema/postgresql/v12 (looked in '$dir')"; }
  mkdir -p "$tmp/schema" && cp -R "$dir/schema/postgresql" "$tmp/schema/" && chmod -R u+w "$tmp/schema"
  mv "$tmp/bin/server" "$tmp/temporal-server" && mv "$tmp/bin/sql" "$tmp/temporal-sql-tool" && rmdir "$tmp/bin"
  rm -rf "$dest" && mv "$tmp" "$dest"
}

# The Temporal Web UI as its own server (github.com/temporalio/ui-server, the UI's assets embedded), the
# version the Temporal CLI above serves in its dev server.
build_temporal_ui_server() {
  local dest="$SFE_TOOLS_DIR/temporal-ui-server-$TEMPORAL_UI_SERVER_VERSION"
  [ -x "$dest/temporal-ui-server" ] && return 0
  local tmp="$dest.tmp.$$" log="$dest.log"
  rm -rf "$dest".tmp.* && mkdir -p "$tmp/bin"
  : >"$log"
  go_install_timed "Temporal UI server v$TEMPORAL_UI_SERVER_VERSION" "$tmp/bin" "$log" \
    "github.com/temporalio/ui-server/v2/cmd/server@v$TEMPORAL_UI_SERVER_VERSION" ||
    { rm -rf "$tmp"; tools_die "the Temporal UI server v$TEMPORAL_UI_SERVER_VERSION was not built"; }
  mv "$tmp/bin/server" "$tmp/temporal-ui-server" && rmdir "$tmp/bin"
  rm -rf "$dest" && mv "$tmp" "$dest"
}

# What the cluster topology runs, built once per machine: exports TEMPORAL_SERVER_PATH, TEMPORAL_SQL_TOOL_PATH,
# TEMPORAL_SCHEMA_DIR (the PostgreSQL v12 schema folder) and TEMPORAL_UI_SERVER_PATH.
ensure_temporal_cluster_tools() {
  local server="$SFE_TOOLS_DIR/temporal-server-$TEMPORAL_SERVER_VERSION" ui="$SFE_TOOLS_DIR/temporal-ui-server-$TEMPORAL_UI_SERVER_VERSION"
  if [ -x "$server/temporal-server" ] && [ -x "$server/temporal-sql-tool" ] && [ -d "$server/schema/postgresql/v12" ]; then
    step_cached "Temporal server v$TEMPORAL_SERVER_VERSION and its SQL tool: cached in $server"
  else
    tools_require go "to build the Temporal server once" "Go 1.23 or newer (Debian: apt-get install golang-go, or the tarball from the Go website)"
    step_begin "Building the Temporal server v$TEMPORAL_SERVER_VERSION and its SQL tool with go install into $server (once per machine; go's output: $server.log)"
    with_tool_lock temporal-server build_temporal_server
    step_end "built"
  fi
  if [ -x "$ui/temporal-ui-server" ]; then
    step_cached "Temporal UI server v$TEMPORAL_UI_SERVER_VERSION: cached in $ui"
  else
    tools_require go "to build the Temporal UI server once" "Go 1.23 or newer"
    step_begin "Building the Temporal UI server v$TEMPORAL_UI_SERVER_VERSION with go install into $ui (once per machine; go's output: $ui.log)"
    with_tool_lock temporal-ui-server build_temporal_ui_server
    step_end "built"
  fi
  TEMPORAL_SERVER_PATH="$server/temporal-server"
  TEMPORAL_SQL_TOOL_PATH="$server/temporal-sql-tool"
  TEMPORAL_SCHEMA_DIR="$server/schema/postgresql/v12"
  TEMPORAL_UI_SERVER_PATH="$ui/temporal-ui-server"
  export TEMPORAL_SERVER_PATH TEMPORAL_SQL_TOOL_PATH TEMPORAL_SCHEMA_DIR TEMPORAL_UI_SERVER_PATH
}

# start_temporal_cli; ...; finish_temporal_cli: finds the Temporal CLI, or builds it in the background
# (its own process group, output in a log) while the steps between run: the build is mostly downloading
# and compiling Go, which the npm install and the TypeScript build need not wait for. Exports TEMPORAL_CLI_PATH.
start_temporal_cli() {
  TEMPORAL_CLI_BUILD_PID=""
  if [ -n "${TEMPORAL_CLI_PATH:-}" ]; then
    [ -x "$TEMPORAL_CLI_PATH" ] || tools_die "TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH is not an executable file"
    return 0
  fi
  if command -v temporal >/dev/null 2>&1; then
    local have
    have="$(temporal --version 2>/dev/null | sed -n 's/^temporal version \([0-9][0-9.]*\).*/\1/p')"
    if [ -n "$have" ] && version_at_least "$have" "$TEMPORAL_CLI_MIN_VERSION"; then
      TEMPORAL_CLI_PATH="$(command -v temporal)"
      export TEMPORAL_CLI_PATH
      step_cached "Temporal CLI: $TEMPORAL_CLI_PATH (version $have)"
      return 0
    fi
  fi
  TEMPORAL_CLI_PATH="$SFE_TOOLS_DIR/temporal-cli-$TEMPORAL_CLI_VERSION/temporal"
  export TEMPORAL_CLI_PATH
  if [ -x "$TEMPORAL_CLI_PATH" ]; then
    step_cached "Temporal CLI v$TEMPORAL_CLI_VERSION: cached in $(dirname "$TEMPORAL_CLI_PATH")"
    return 0
  fi
  tools_require go "to build the Temporal CLI (dev server with the Web UI) once" \
    "Go 1.23 or newer (Debian: apt-get install golang-go, or the tarball from the Go website)"
  mkdir -p "$SFE_TOOLS_DIR"
  TEMPORAL_CLI_BUILD_LOG="$SFE_TOOLS_DIR/temporal-cli-$TEMPORAL_CLI_VERSION.log"
  TEMPORAL_CLI_BUILD_STARTED="$(tools_now_ms)"
  echo "==> Building the Temporal CLI v$TEMPORAL_CLI_VERSION with go install into $(dirname "$TEMPORAL_CLI_PATH"), in the background while the next steps run (once per machine; go's output: $TEMPORAL_CLI_BUILD_LOG) ..." >&2
  # Its progress lines come to this terminal; go's own output goes to the log.
  local lib
  lib="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/all.sh"
  : >"$TEMPORAL_CLI_BUILD_LOG"
  SFE_TOOLS_DIR="$SFE_TOOLS_DIR" TEMPORAL_CLI_VERSION="$TEMPORAL_CLI_VERSION" TEMPORAL_CLI_BUILD_LOG="$TEMPORAL_CLI_BUILD_LOG" \
    setsid bash -c 'source "$1" && with_tool_lock temporal-cli build_temporal_cli' sfe-temporal-cli "$lib" </dev/null >/dev/null &
  TEMPORAL_CLI_BUILD_PID=$!
  # Stopped with this script (Ctrl-C, a failed step): it is not left building on its own.
  trap 'stop_temporal_cli_build' EXIT
  trap 'stop_temporal_cli_build; exit 130' INT
  trap 'stop_temporal_cli_build; exit 143' TERM
}

stop_temporal_cli_build() {
  [ -n "${TEMPORAL_CLI_BUILD_PID:-}" ] || return 0
  kill -TERM -- "-$TEMPORAL_CLI_BUILD_PID" 2>/dev/null || true
  TEMPORAL_CLI_BUILD_PID=""
}

finish_temporal_cli() {
  [ -n "${TEMPORAL_CLI_BUILD_PID:-}" ] || return 0
  local pid="$TEMPORAL_CLI_BUILD_PID" status=0
  if kill -0 "$pid" 2>/dev/null; then echo "==> Waiting for the Temporal CLI build ..." >&2; fi
  wait "$pid" || status=$?
  TEMPORAL_CLI_BUILD_PID=""
  trap - EXIT INT TERM
  if [ "$status" -ne 0 ] || [ ! -x "$TEMPORAL_CLI_PATH" ]; then
    tail -n 30 "$TEMPORAL_CLI_BUILD_LOG" >&2
    tools_die "building the Temporal CLI v$TEMPORAL_CLI_VERSION failed (the end of $TEMPORAL_CLI_BUILD_LOG is above)"
  fi
  echo "==> Building the Temporal CLI v$TEMPORAL_CLI_VERSION: built ($(tools_duration $(($(tools_now_ms) - TEMPORAL_CLI_BUILD_STARTED))))" >&2
}

ensure_temporal_cli() {
  start_temporal_cli
  finish_temporal_cli
}
