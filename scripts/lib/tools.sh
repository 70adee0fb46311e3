# Sourced by scripts/dev.sh and scripts/test.sh (and usable alone through scripts/tools.sh).
# Obtains the real servers without Docker, once per machine, into a cache outside the clone keyed by
# version: the Temporal CLI (dev server + Web UI) built from Go modules, and the Java time-skipping
# test server from Maven Central. Exports TEMPORAL_CLI_PATH and TEMPORAL_TEST_SERVER_PATH.
# It also builds the SDK's native bridge with the patches in patches/ (ensure_core_bridge).
# Every step prints what it does and, when done, how long it took: `==> <step> (12 s)`.

TEMPORAL_CLI_VERSION="${TEMPORAL_CLI_VERSION:-1.5.1}"
TEMPORAL_TEST_SERVER_VERSION="${TEMPORAL_TEST_SERVER_VERSION:-1.31.0}"
# The cluster topology (`npm run dev -- --cluster`, the cluster tests): the Temporal server and its SQL schema
# tool, and the standalone Web UI server of the version the CLI above embeds. docker-compose.yml runs the same
# versions (test/unit/compose.test.ts), and platform/temporal-cluster.ts names them too.
TEMPORAL_SERVER_VERSION="${TEMPORAL_SERVER_VERSION:-1.29.1}"
TEMPORAL_UI_SERVER_VERSION="${TEMPORAL_UI_SERVER_VERSION:-2.42.1}"
# The oldest CLI whose `server start-dev` has everything the project uses (--search-attribute, --db-filename, UI).
TEMPORAL_CLI_MIN_VERSION="1.1.0"
SFE_TOOLS_DIR="${SFE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sygedagpenge-engine/tools}"

tools_die() {
  printf '\nerror: %s\n\n' "$*" >&2
  exit 1
}

tools_require() {
  # tools_require <command> <what it is for> <how to install>
  command -v "$1" >/dev/null 2>&1 || tools_die "'$1' is needed $2, and it is not on PATH. Install it: $3"
}

# Progress. step_begin prints what a step is about to do; step_end prints how long it took. A step that
# finds its result already there prints one line (step_cached).
tools_now_ms() { date +%s%3N; }

tools_duration() {
  # tools_duration <milliseconds>: "0.4 s", "12 s", "6 min 31 s"
  local ms="$1" s
  if [ "$ms" -lt 10000 ]; then
    printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100))
  elif [ "$ms" -lt 60000 ]; then
    printf '%d s' $(((ms + 500) / 1000))
  else
    s=$(((ms + 500) / 1000))
    printf '%d min %d s' $((s / 60)) $((s % 60))
  fi
}

# TOOLS_CPU_MS: CPU time (ms) of the processes this shell has waited for (not callable in $(...), a subshell
# of its own). With the wall time it says how much of a slow step was the machine busy with other work.
tools_read_cpu() {
  local f pid="$BASHPID"
  TOOLS_CPU_MS=0
  read -r -a f < <(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || return 0
  TOOLS_CPU_MS=$(((${f[13]:-0} + ${f[14]:-0}) * 1000 / $(getconf CLK_TCK)))
}

# "<wall>" or "<wall>, <cpu> CPU" since <started ms>, with <cpu ms used meanwhile>.
tools_took() {
  local wall=$(($(tools_now_ms) - $1)) cpu="$2"
  if [ "$cpu" -ge 1000 ]; then printf '%s, %s CPU' "$(tools_duration "$wall")" "$(tools_duration "$cpu")"; else tools_duration "$wall"; fi
}

step_begin() {
  TOOLS_STEP="$1"
  TOOLS_STEP_STARTED="$(tools_now_ms)"
  tools_read_cpu
  TOOLS_STEP_CPU="$TOOLS_CPU_MS"
  echo "==> $1 ..." >&2
}

step_end() {
  # step_end [outcome]: "==> <step>: <outcome> (<wall time>, <CPU time>)"
  tools_read_cpu
  echo "==> $TOOLS_STEP: ${1:-done} ($(tools_took "$TOOLS_STEP_STARTED" $((TOOLS_CPU_MS - TOOLS_STEP_CPU))))" >&2
}

step_cached() {
  echo "==> $1" >&2
}

# Runs a command that prints nothing for minutes (go install), saying every 30 s that it still runs. The
# ticker ends with the command, or within a second of this script ending (Ctrl-C).
with_heartbeat() {
  local label="$1"; shift
  (
    started=$SECONDS next=30
    while sleep 1 && kill -0 "$$" 2>/dev/null; do
      if [ $((SECONDS - started)) -ge "$next" ]; then echo "    ... $label: $next s so far" >&2; next=$((next + 30)); fi
    done
  ) &
  local beat=$! status=0
  "$@" || status=$?
  kill "$beat" 2>/dev/null || true
  wait "$beat" 2>/dev/null || true
  return "$status"
}

# to_log <file> <command...>: runs the command with its output appended to the file.
to_log() {
  local log="$1"; shift
  "$@" >>"$log" 2>&1
}

version_at_least() {
  # version_at_least <have> <need>: true when have >= need (dotted numbers)
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

# Serialises concurrent builds of the same tool (two clones, CI and a developer) on one machine.
with_tool_lock() {
  local name="$1"; shift
  mkdir -p "$SFE_TOOLS_DIR"
  (
    if ! flock -n 9; then
      echo "    waiting for another build of $name to finish (lock $SFE_TOOLS_DIR/.$name.lock)" >&2
      tool_lock_waiting "$name"
      flock -w 3600 9 || tools_die "timed out waiting for another build of $name ($SFE_TOOLS_DIR/.$name.lock)"
    fi
    "$@"
  ) 9>"$SFE_TOOLS_DIR/.$name.lock"
}

# Someone now waits for a build that `npm run dev` started in the background at the lowest priority: it gets
# the normal priority back where this user may give it (root may; others keep waiting at nice 19).
tool_lock_waiting() {
  local pidfile="$SFE_TOOLS_DIR/.$1.background" group
  [ -f "$pidfile" ] || return 0
  group="$(cat "$pidfile" 2>/dev/null)" || return 0
  [ -n "$group" ] && kill -0 "$group" 2>/dev/null || return 0
  if renice -n 0 -g "$group" >/dev/null 2>&1; then
    local p
    if command -v chrt >/dev/null 2>&1; then
      for p in $(pgrep -g "$group"); do chrt --other -a -p 0 "$p" >/dev/null 2>&1 || true; done
    fi
    if command -v ionice >/dev/null 2>&1; then ionice -c 2 -n 4 -P "$group" >/dev/null 2>&1 || true; fi
    echo "    (that is the background build of npm run dev, process group $group: now at normal priority)" >&2
  else
    echo "    (that is the background build of npm run dev, process group $group, at nice 19)" >&2
  fi
}

build_temporal_cli() {
  local dest="$SFE_TOOLS_DIR/temporal-cli-$TEMPORAL_CLI_VERSION" started cpu
  [ -x "$dest/temporal" ] && return 0
  local tmp="$dest.tmp.$$" pkg="github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_CLI_VERSION"
  # go's own output goes to the log (start_temporal_cli), the progress lines to stderr.
  local log="${TEMPORAL_CLI_BUILD_LOG:-/dev/stderr}"
  # Under the lock: what an interrupted build left is nobody's.
  rm -rf "$dest".tmp.* && mkdir -p "$tmp"
  # Two passes, each timed. First the ~160 modules (1.8 GB unpacked): `go install -n` loads every package
  # without compiling, fetching modules as many at a time as GOMAXPROCS allows, so 16 rather than the cores
  # (2 cores: 111 s with 2, 77 s with 8 or 32, measured under load). Then the compile at the usual parallelism.
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

fetch_test_server() {
  local dest="$SFE_TOOLS_DIR/temporal-test-server-$TEMPORAL_TEST_SERVER_VERSION"
  [ -x "$dest/temporal-test-server" ] && return 0
  tools_require java "to run Temporal's time-skipping test server" "a Java 11+ runtime (Debian: apt-get install openjdk-17-jre-headless)"
  tools_require mvn "to fetch Temporal's time-skipping test server from Maven Central once" "Apache Maven (Debian: apt-get install maven)"
  local tmp="$dest.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  cat >"$tmp/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.sygedagpenge</groupId>
  <artifactId>temporal-test-server-runtime</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>io.temporal</groupId>
      <artifactId>temporal-test-server</artifactId>
      <version>$TEMPORAL_TEST_SERVER_VERSION</version>
    </dependency>
  </dependencies>
</project>
POM
  if ! (cd "$tmp" && mvn -q -B dependency:copy-dependencies -DoutputDirectory=lib >&2); then
    rm -rf "$tmp"
    tools_die "fetching the Temporal test server with Maven failed (see above)"
  fi
  # The SDK runs this as `<path> <port> --enable-time-skipping [extraArgs]`.
  cat >"$tmp/temporal-test-server" <<'WRAPPER'
#!/usr/bin/env bash
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec java ${TEMPORAL_TEST_SERVER_JAVA_OPTS:--Xmx512m -XX:+UseSerialGC} -cp "$here/lib/*" io.temporal.testserver.TestServer "$@"
WRAPPER
  chmod +x "$tmp/temporal-test-server"
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
  lib="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tools.sh"
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

ensure_test_server() {
  if [ -n "${TEMPORAL_TEST_SERVER_PATH:-}" ]; then
    [ -x "$TEMPORAL_TEST_SERVER_PATH" ] || tools_die "TEMPORAL_TEST_SERVER_PATH=$TEMPORAL_TEST_SERVER_PATH is not an executable file"
    return 0
  fi
  TEMPORAL_TEST_SERVER_PATH="$SFE_TOOLS_DIR/temporal-test-server-$TEMPORAL_TEST_SERVER_VERSION/temporal-test-server"
  export TEMPORAL_TEST_SERVER_PATH
  if [ -x "$TEMPORAL_TEST_SERVER_PATH" ]; then
    step_cached "Temporal test server $TEMPORAL_TEST_SERVER_VERSION: cached in $(dirname "$TEMPORAL_TEST_SERVER_PATH")"
    return 0
  fi
  step_begin "Fetching io.temporal:temporal-test-server:$TEMPORAL_TEST_SERVER_VERSION from Maven Central into $(dirname "$TEMPORAL_TEST_SERVER_PATH") (once per machine)"
  with_tool_lock test-server fetch_test_server
  step_end "fetched"
}

# Installs the npm dependencies as locked, again only when package-lock.json or patches/npm changed. npm
# install's postinstall applies patches/npm to node_modules with patch-package (see README, Patches to the SDK).
ensure_node_modules() {
  tools_require node "to run the engine" "Node.js 20 or newer"
  tools_require npm "to install the engine's packages" "npm (comes with Node.js)"
  local stamp="node_modules/.sfe-lock-stamp" want
  want="$( (cat package-lock.json; cat patches/npm/*.patch 2>/dev/null || true) | sha256sum | cut -c1-64)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    step_cached "npm packages: installed as package-lock.json says, patches/npm applied"
    return 0
  fi
  step_begin "Installing the npm packages (locked versions; npm's cache is $(npm config get cache 2>/dev/null || echo '~/.npm'))"
  # npm install, not npm ci: the lock file lacks the optional native packages of other platforms
  # (@swc/core-darwin-*, ...), which npm ci rejects; npm install keeps the locked versions all the same.
  npm install --no-audit --no-fund >&2
  echo "$want" > "$stamp"
  step_end "installed"
}

# The SDK's native bridge (Rust, @temporalio/core-bridge) with the patches in patches/, built once per
# machine with cargo into the tools cache, keyed by the package's version and the patches' digest, and put in
# place of the prebuilt module in node_modules (again after every npm install). See patches/*.patch for why.
#
# `npm test`, the benchmarks and scripts/tools.sh run what production runs: `ensure_core_bridge build` builds
# it first when it is missing. `npm run dev` does not wait for it: `ensure_core_bridge background` leaves the
# SDK's prebuilt bridge in place for this run (correct; slower only with thousands of cases in one worker's
# memory) and builds the patched one at the lowest priority (nice 19, SCHED_IDLE) while the stack runs; the
# next start installs it. The background build stops with the stack and resumes at the next start from what
# cargo compiled. dev.sh starts it only once the Temporal CLI is built (beside that compile it slowed it).
#
# Exports for the local stack's notice: SFE_CORE_BRIDGE_STATE (patched, prebuilt or building),
# SFE_CORE_BRIDGE_NOTE (why, in words) and SFE_CORE_BRIDGE_CACHE (the patched build's folder).

core_bridge_platform_supported() {
  [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ]
}

core_bridge_package() { echo "node_modules/@temporalio/core-bridge"; }

# The file the SDK loads (@temporalio/core-bridge/common.js, getPrebuiltPath).
core_bridge_installed() { echo "$(core_bridge_package)/releases/x86_64-unknown-linux-gnu/index.node"; }

core_bridge_cache_dir() {
  local version digest
  version="$(node -p "require('./$(core_bridge_package)/package.json').version")"
  digest="$(cat patches/sdk-core-*.patch | sha256sum | cut -c1-12)"
  echo "$SFE_TOOLS_DIR/temporal-core-bridge-$version-$digest"
}

build_core_bridge() {
  local src="$1" dest="$2" work="$2.build"
  [ -f "$dest/index.node" ] && return 0
  tools_require patch "to apply patches/ to the SDK's bridge" "GNU patch (Debian: apt-get install patch)"
  # The work folder (used under the lock only) is kept when a build stops before the end (the stack stopped,
  # Ctrl-C, a network error): the next build resumes from what cargo compiled. Removed once the build is in place.
  if [ ! -f "$work/core-bridge/.sfe-patched" ]; then
    rm -rf "$work/core-bridge" && mkdir -p "$work/core-bridge"
    # The sources only: the package's prebuilt modules for every platform (releases/, 136 MB) are not needed.
    tar -C "$src" --exclude=./releases -cf - . | tar -C "$work/core-bridge" -xf -
    local patch
    for patch in patches/sdk-core-*.patch; do
      patch -s -p1 -d "$work/core-bridge" <"$patch" >&2 || { rm -rf "$work"; tools_die "patch $patch does not apply to $src"; }
    done
    touch "$work/core-bridge/.sfe-patched"
  fi
  # Core's build compiles Temporal's protobuf definitions and needs protoc: the one packaged on crates.io.
  local protoc="${PROTOC:-}"
  if [ -z "$protoc" ]; then
    mkdir -p "$work/protoc/src"
    cat >"$work/protoc/Cargo.toml" <<'TOML'
[package]
name = "find-protoc"
version = "0.0.0"
edition = "2021"

[dependencies]
protoc-bin-vendored = "=3.2.0"
TOML
    echo 'fn main() { println!("{}", protoc_bin_vendored::protoc_bin_path().unwrap().display()); }' >"$work/protoc/src/main.rs"
    protoc="$(cd "$work/protoc" && cargo run -q --release)" || tools_die "fetching protoc (crate protoc-bin-vendored) with cargo failed"
  fi
  if ! (cd "$work/core-bridge" && PROTOC="$protoc" CARGO_TARGET_DIR="$work/target" cargo build --release --locked >&2); then
    tools_die "building the SDK's native bridge with cargo failed (see above; what it compiled stays in $work for the next try)"
  fi
  rm -rf "$work/out" && mkdir -p "$work/out"
  cp "$work/target/release/libtemporal_sdk_typescript_bridge.so" "$work/out/index.node"
  rm -rf "$dest" && mv "$work/out" "$dest" && rm -rf "$work"
}

# Puts the module at `to` without ever writing into the old file: a worker that runs has it mapped, and a
# `cp` over it crashes that worker with SIGSEGV. A new file renamed over the old name leaves the running
# worker its own copy; the next process loads the new one.
install_core_bridge() {
  local from="$1" to="$2"
  cmp -s "$from" "$to" && return 0
  cp "$from" "$to.sfe-new.$$" && mv -f "$to.sfe-new.$$" "$to"
}

# ensure_core_bridge [build|background] [owner pid]: see above. In background mode the build runs while the
# process `owner pid` (default: this shell, which dev.sh replaces with the local stack) lives.
ensure_core_bridge() {
  local mode="${1:-build}" owner="${2:-$$}"
  case "$mode" in build | background) ;; *) tools_die "ensure_core_bridge: mode '$mode' is neither build nor background" ;; esac
  SFE_CORE_BRIDGE_STATE=prebuilt SFE_CORE_BRIDGE_NOTE="" SFE_CORE_BRIDGE_CACHE=""
  export SFE_CORE_BRIDGE_STATE SFE_CORE_BRIDGE_NOTE SFE_CORE_BRIDGE_CACHE
  if ! core_bridge_platform_supported; then
    SFE_CORE_BRIDGE_NOTE="patches/ are built for Linux x86_64 only"
    step_cached "SDK bridge: the SDK's prebuilt one ($SFE_CORE_BRIDGE_NOTE)"
    return 0
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    SFE_CORE_BRIDGE_NOTE="cargo is not on PATH, so patches/ are not built (correct, but slower with thousands of cases in memory; install Rust with rustup)"
    echo "warning: the worker runs the SDK's prebuilt bridge: $SFE_CORE_BRIDGE_NOTE" >&2
    return 0
  fi
  local pkg installed dest
  pkg="$(core_bridge_package)"
  installed="$(core_bridge_installed)"
  dest="$(core_bridge_cache_dir)"
  SFE_CORE_BRIDGE_CACHE="$dest"
  if [ -f "$dest/index.node" ]; then
    install_core_bridge "$dest/index.node" "$installed"
    SFE_CORE_BRIDGE_STATE=patched
    step_cached "SDK bridge with patches/: cached in $dest"
    return 0
  fi
  if [ "$mode" = background ]; then
    start_core_bridge_build_in_background "$pkg" "$dest" "$owner"
    return 0
  fi
  step_begin "Building the SDK's native bridge with patches/ into $dest (once per machine; about 7 minutes on 2 cores with an empty cargo cache)"
  with_tool_lock core-bridge build_core_bridge "$pkg" "$dest"
  install_core_bridge "$dest/index.node" "$installed"
  SFE_CORE_BRIDGE_STATE=patched
  step_end "built"
}

start_core_bridge_build_in_background() {
  local pkg="$1" dest="$2" owner="$3" log="$2.log"
  mkdir -p "$SFE_TOOLS_DIR"
  if ! flock -n "$SFE_TOOLS_DIR/.core-bridge.lock" true; then
    SFE_CORE_BRIDGE_NOTE="another process is building the patched one (lock $SFE_TOOLS_DIR/.core-bridge.lock); a start after it uses it"
    step_cached "SDK bridge: this run uses the SDK's prebuilt one; $SFE_CORE_BRIDGE_NOTE"
    return 0
  fi
  SFE_CORE_BRIDGE_STATE=building
  SFE_CORE_BRIDGE_NOTE="the patched one is being built in the background at nice 19 (log: $log); the next start uses it"
  step_cached "SDK bridge: this run uses the SDK's prebuilt one (correct; slower only with thousands of cases in memory); $SFE_CORE_BRIDGE_NOTE"
  # Twice in the background, so that the watcher is nobody's child (not the stack's to reap) and holds no terminal input.
  ( (core_bridge_background_build "$pkg" "$dest" "$owner" "$log") </dev/null >&2 & )
}

# Runs in the background: the build in its own process group at nice 19, stopped when `owner` exits.
core_bridge_background_build() {
  set +e # its own error handling, whatever the calling script's -e
  local pkg="$1" dest="$2" owner="$3" log="$4" lib started build watch status=0
  lib="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tools.sh"
  started="$(tools_now_ms)"
  # The lowest CPU priority: nice 19 and, where chrt is, SCHED_IDLE (CPU time only when nothing else wants it).
  local low=(nice -n 19)
  command -v chrt >/dev/null 2>&1 && low+=(chrt --idle 0)
  command -v ionice >/dev/null 2>&1 && low+=(ionice -c 2 -n 7)
  echo "== $(date -Is) building $dest at ${low[*]} while process $owner (the local stack) runs" >>"$log"
  # setsid: its own process group (its pid), so that stopping it reaches cargo and every rustc.
  SFE_TOOLS_DIR="$SFE_TOOLS_DIR" setsid "${low[@]}" bash -c 'source "$1" && with_tool_lock core-bridge build_core_bridge "$2" "$3"' \
    sfe-core-bridge "$lib" "$pkg" "$dest" >>"$log" 2>&1 &
  build=$!
  echo "$build" >"$SFE_TOOLS_DIR/.core-bridge.background"
  (
    while kill -0 "$owner" 2>/dev/null; do sleep 1; done
    kill -TERM -- "-$build" 2>/dev/null
  ) &
  watch=$!
  wait "$build" || status=$?
  kill "$watch" 2>/dev/null
  wait "$watch" 2>/dev/null
  rm -f "$SFE_TOOLS_DIR/.core-bridge.background"
  local took
  took="$(tools_duration $(($(tools_now_ms) - started)))"
  if [ -f "$dest/index.node" ]; then
    echo "== $(date -Is) built in $took" >>"$log"
    kill -0 "$owner" 2>/dev/null &&
      echo "==> SDK bridge with patches/: built in the background ($took) into $dest; the next start uses it" >&2
  elif ! kill -0 "$owner" 2>/dev/null; then
    echo "== $(date -Is) stopped with the local stack after $took; the next start resumes it" >>"$log"
  else
    echo "== $(date -Is) failed after $took (exit $status)" >>"$log"
    echo "warning: the background build of the SDK bridge with patches/ failed after $took (log: $log);" \
      "this run goes on with the prebuilt bridge, and the next start tries again" >&2
  fi
}

# What every entry point needs: the npm packages, the patched bridge, the Temporal CLI. `npm test`, the
# benchmarks and scripts/tools.sh call it as it is (the patched bridge is built first if missing);
# `npm run dev` passes `background`.
ensure_engine_tools() {
  start_temporal_cli
  ensure_node_modules
  ensure_core_bridge "${1:-build}"
  finish_temporal_cli
}
