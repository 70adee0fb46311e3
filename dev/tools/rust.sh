# Sourced through dev/tools/all.sh. The SDK's native bridge (Rust, @temporalio/core-bridge) with the patches
# in patches/, built once per machine with cargo into the tools cache, keyed by the package's version and the
# patches' digest, and put in place of the prebuilt module in node_modules (again after every npm install).
# See patches/*.patch for why.
#
# `npm test`, the benchmarks and dev/tools.sh run what production runs: `ensure_core_bridge build` builds
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
  lib="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/all.sh"
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
