# Sourced through dev/tools/all.sh. Temporal's Java time-skipping test server (the workflow tests), fetched
# once per machine from Maven Central into the tools cache. Exports TEMPORAL_TEST_SERVER_PATH.

TEMPORAL_TEST_SERVER_VERSION="${TEMPORAL_TEST_SERVER_VERSION:-1.31.0}"

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

