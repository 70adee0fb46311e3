# Sourced by scripts/dev.sh and scripts/test.sh (and usable alone through scripts/tools.sh).
# Obtains the real servers without Docker, once per machine, into a cache outside the clone keyed by
# version: the Temporal CLI (dev server + Web UI) built from Go modules, and the Java time-skipping
# test server from Maven Central. Exports TEMPORAL_CLI_PATH and TEMPORAL_TEST_SERVER_PATH.
# It also builds the SDK's native bridge with the patches in patches/ (ensure_core_bridge).

TEMPORAL_CLI_VERSION="${TEMPORAL_CLI_VERSION:-1.5.1}"
TEMPORAL_TEST_SERVER_VERSION="${TEMPORAL_TEST_SERVER_VERSION:-1.31.0}"
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

version_at_least() {
  # version_at_least <have> <need>: true when have >= need (dotted numbers)
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

# Serialises concurrent builds of the same tool (two clones, CI and a developer) on one machine.
with_tool_lock() {
  local name="$1"; shift
  mkdir -p "$SFE_TOOLS_DIR"
  (
    flock -w 1800 9 || tools_die "timed out waiting for another build of $name ($SFE_TOOLS_DIR/.$name.lock)"
    "$@"
  ) 9>"$SFE_TOOLS_DIR/.$name.lock"
}

build_temporal_cli() {
  local dest="$SFE_TOOLS_DIR/temporal-cli-$TEMPORAL_CLI_VERSION"
  [ -x "$dest/temporal" ] && return 0
  tools_require go "to build the Temporal CLI (dev server with the Web UI) once" \
    "Go 1.23 or newer (Debian: apt-get install golang-go, or the tarball from the Go website)"
  echo "==> Building the Temporal CLI v$TEMPORAL_CLI_VERSION from Go modules into $dest (first time only, a few minutes)" >&2
  local tmp="$dest.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  local started=$SECONDS
  if ! GOBIN="$tmp" go install -ldflags "-X github.com/temporalio/cli/temporalcli.Version=$TEMPORAL_CLI_VERSION" \
      "github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_CLI_VERSION" >&2; then
    rm -rf "$tmp"
    tools_die "building the Temporal CLI v$TEMPORAL_CLI_VERSION with 'go install' failed (see above)"
  fi
  rm -rf "$dest" && mv "$tmp" "$dest"
  echo "==> Temporal CLI built in $((SECONDS - started)) s" >&2
}

fetch_test_server() {
  local dest="$SFE_TOOLS_DIR/temporal-test-server-$TEMPORAL_TEST_SERVER_VERSION"
  [ -x "$dest/temporal-test-server" ] && return 0
  tools_require java "to run Temporal's time-skipping test server" "a Java 11+ runtime (Debian: apt-get install openjdk-17-jre-headless)"
  tools_require mvn "to fetch Temporal's time-skipping test server from Maven Central once" "Apache Maven (Debian: apt-get install maven)"
  echo "==> Fetching io.temporal:temporal-test-server:$TEMPORAL_TEST_SERVER_VERSION from Maven Central into $dest (first time only)" >&2
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

ensure_temporal_cli() {
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
      return 0
    fi
  fi
  with_tool_lock temporal-cli build_temporal_cli
  TEMPORAL_CLI_PATH="$SFE_TOOLS_DIR/temporal-cli-$TEMPORAL_CLI_VERSION/temporal"
  export TEMPORAL_CLI_PATH
}

ensure_test_server() {
  if [ -n "${TEMPORAL_TEST_SERVER_PATH:-}" ]; then
    [ -x "$TEMPORAL_TEST_SERVER_PATH" ] || tools_die "TEMPORAL_TEST_SERVER_PATH=$TEMPORAL_TEST_SERVER_PATH is not an executable file"
    return 0
  fi
  with_tool_lock test-server fetch_test_server
  TEMPORAL_TEST_SERVER_PATH="$SFE_TOOLS_DIR/temporal-test-server-$TEMPORAL_TEST_SERVER_VERSION/temporal-test-server"
  export TEMPORAL_TEST_SERVER_PATH
}

# Installs the npm dependencies as locked, again only when package-lock.json changed.
ensure_node_modules() {
  tools_require node "to run the engine" "Node.js 20 or newer"
  tools_require npm "to install the engine's packages" "npm (comes with Node.js)"
  local stamp="node_modules/.sfe-lock-stamp"
  if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; then
    return 0
  fi
  echo "==> Installing npm packages (locked versions)" >&2
  # npm install, not npm ci: the lock file lacks the optional native packages of other platforms
  # (@swc/core-darwin-*, ...), which npm ci rejects; npm install keeps the locked versions all the same.
  npm install --no-audit --no-fund >&2
  cp package-lock.json "$stamp"
}

# The SDK's native bridge (Rust, @temporalio/core-bridge) with the patches in patches/, built once per
# machine with cargo and keyed by the package's version and the patches' digest, then put in place of the
# prebuilt module in node_modules (again after every npm install). See patches/*.patch for why.
build_core_bridge() {
  local src="$1" dest="$2" tmp="$2.tmp.$$"
  [ -f "$dest/index.node" ] && return 0
  tools_require patch "to apply patches/ to the SDK's bridge" "GNU patch (Debian: apt-get install patch)"
  echo "==> Building the SDK's native bridge with patches/ into $dest (first time only, about 7 minutes on 2 cores)" >&2
  rm -rf "$tmp" && mkdir -p "$tmp"
  local started=$SECONDS
  # The sources only: the package's prebuilt modules for every platform (releases/, 136 MB) are not needed.
  mkdir -p "$tmp/core-bridge"
  tar -C "$src" --exclude=./releases -cf - . | tar -C "$tmp/core-bridge" -xf -
  local patch
  for patch in patches/sdk-core-*.patch; do
    patch -s -p1 -d "$tmp/core-bridge" <"$patch" >&2 || { rm -rf "$tmp"; tools_die "patch $patch does not apply to $src"; }
  done
  # Core's build compiles Temporal's protobuf definitions and needs protoc: the one packaged on crates.io.
  local protoc="${PROTOC:-}"
  if [ -z "$protoc" ]; then
    mkdir -p "$tmp/protoc/src"
    cat >"$tmp/protoc/Cargo.toml" <<'TOML'
[package]
name = "find-protoc"
version = "0.0.0"
edition = "2021"

[dependencies]
protoc-bin-vendored = "=3.2.0"
TOML
    echo 'fn main() { println!("{}", protoc_bin_vendored::protoc_bin_path().unwrap().display()); }' >"$tmp/protoc/src/main.rs"
    protoc="$(cd "$tmp/protoc" && cargo run -q --release)" || { rm -rf "$tmp"; tools_die "fetching protoc (crate protoc-bin-vendored) with cargo failed"; }
  fi
  if ! (cd "$tmp/core-bridge" && PROTOC="$protoc" CARGO_TARGET_DIR="$tmp/target" cargo build --release --locked >&2); then
    rm -rf "$tmp"
    tools_die "building the SDK's native bridge with cargo failed (see above)"
  fi
  mkdir -p "$tmp/out"
  cp "$tmp/target/release/libtemporal_sdk_typescript_bridge.so" "$tmp/out/index.node"
  rm -rf "$dest" && mv "$tmp/out" "$dest" && rm -rf "$tmp"
  echo "==> Native bridge built in $((SECONDS - started)) s" >&2
}

ensure_core_bridge() {
  local pkg="node_modules/@temporalio/core-bridge"
  local installed="$pkg/releases/x86_64-unknown-linux-gnu/index.node"
  if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
    echo "note: patches/ are built for Linux x86_64 only; this machine runs the SDK's prebuilt bridge" >&2
    return 0
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    echo "warning: cargo is not on PATH, so the worker runs the SDK's prebuilt bridge without patches/" \
      "(correct, but slower with thousands of cached cases). Install Rust (rustup) to build it." >&2
    return 0
  fi
  local version digest
  version="$(node -p "require('./$pkg/package.json').version")"
  digest="$(cat patches/sdk-core-*.patch | sha256sum | cut -c1-12)"
  local dest="$SFE_TOOLS_DIR/temporal-core-bridge-$version-$digest"
  with_tool_lock core-bridge build_core_bridge "$pkg" "$dest"
  cmp -s "$dest/index.node" "$installed" || cp "$dest/index.node" "$installed"
}

# What every entry point (dev, test, bench) needs: the npm packages, the patched bridge, the Temporal CLI.
ensure_engine_tools() {
  ensure_node_modules
  ensure_core_bridge
  ensure_temporal_cli
}
