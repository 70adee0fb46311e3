import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * What dev/tools/go.sh ensure_temporal_cluster_tools does, with a stub go (the real builds take
 * minutes): the Temporal server and its SQL tool of one version in one `go install` (trimmed paths, no debug
 * information), the server module's PostgreSQL schema beside them, the UI server; all in the tools cache keyed
 * by version, built once and then reused; a failed build leaves nothing behind.
 */
const repo = path.resolve(__dirname, '..', '..');
let dir: string;

// `go install -n` (the downloads) does nothing; `go install <flags> <pkgs>` makes one program per package in
// $GOBIN (named as go names them: the last path element), unless $STUB_DIR/fail exists; `go mod download
// -json <module>` prints where the module is.
const stubGo = `#!/usr/bin/env bash
echo "go $*" >>"$STUB_DIR/go.log"
if [ "$1" = mod ]; then printf '{\\n\\t"Path": "go.temporal.io/server",\\n\\t"Dir": "%s",\\n\\t"Version": "v1.29.1"\\n}\\n' "$STUB_DIR/module"; exit 0; fi
[ "$2" = "-n" ] && exit 0
[ -e "$STUB_DIR/fail" ] && { echo "compile error" >&2; exit 1; }
for arg in "$@"; do
  case "$arg" in *@v*) name="\${arg%@*}"; name="\${name##*/}"; printf '#!/bin/sh\\necho %s\\n' "$arg" >"$GOBIN/$name"; chmod +x "$GOBIN/$name" ;; esac
done
`;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sfe-cluster-tools-'));
  mkdirSync(path.join(dir, 'bin'));
  writeFileSync(path.join(dir, 'bin', 'go'), stubGo);
  chmodSync(path.join(dir, 'bin', 'go'), 0o755);
  for (const kind of ['temporal', 'visibility']) {
    const versioned = path.join(dir, 'module', 'schema', 'postgresql', 'v12', kind, 'versioned', 'v1.0');
    mkdirSync(versioned, { recursive: true });
    writeFileSync(path.join(versioned, 'schema.sql'), `-- ${kind}\n`);
    chmodSync(path.join(versioned, 'schema.sql'), 0o444); // the module cache is read-only
  }
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

const run = (script: string) =>
  spawnSync('bash', ['-c', `set -euo pipefail; source "$1"; ${script}`, 'run', path.join(repo, 'dev', 'tools', 'all.sh')], {
    cwd: repo,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, PATH: `${path.join(dir, 'bin')}:/usr/local/bin:/usr/bin:/bin`, SFE_TOOLS_DIR: path.join(dir, 'tools'), STUB_DIR: dir },
  });
const goLog = () => (existsSync(path.join(dir, 'go.log')) ? readFileSync(path.join(dir, 'go.log'), 'utf8') : '');
const printPaths = 'ensure_temporal_cluster_tools; echo "$TEMPORAL_SERVER_PATH|$TEMPORAL_SQL_TOOL_PATH|$TEMPORAL_SCHEMA_DIR|$TEMPORAL_UI_SERVER_PATH"';

test('the server, its SQL tool and the UI server are built once into the cache by version, with the schema beside them', () => {
  const first = run(printPaths);
  expect(first.status).toBe(0);
  const tools = path.join(dir, 'tools');
  const [server, sqlTool, schemaDir, uiServer] = first.stdout.trim().split('|');
  expect(server).toBe(path.join(tools, 'temporal-server-1.29.1', 'temporal-server'));
  expect(sqlTool).toBe(path.join(tools, 'temporal-server-1.29.1', 'temporal-sql-tool'));
  expect(schemaDir).toBe(path.join(tools, 'temporal-server-1.29.1', 'schema', 'postgresql', 'v12'));
  expect(uiServer).toBe(path.join(tools, 'temporal-ui-server-2.42.1', 'temporal-ui-server'));
  // Each program is the package it should be.
  expect(spawnSync(server!, { encoding: 'utf8' }).stdout.trim()).toBe('go.temporal.io/server/cmd/server@v1.29.1');
  expect(spawnSync(sqlTool!, { encoding: 'utf8' }).stdout.trim()).toBe('go.temporal.io/server/cmd/tools/sql@v1.29.1');
  expect(spawnSync(uiServer!, { encoding: 'utf8' }).stdout.trim()).toBe('github.com/temporalio/ui-server/v2/cmd/server@v2.42.1');
  expect(readFileSync(path.join(schemaDir!, 'visibility', 'versioned', 'v1.0', 'schema.sql'), 'utf8')).toBe('-- visibility\n');
  accessSync(path.join(schemaDir!, 'temporal', 'versioned', 'v1.0', 'schema.sql'), constants.W_OK); // a copy the cache owns, not the module's read-only file
  // Downloads first, then one compile of both programs, trimmed and without debug information.
  const compiles = goLog().split('\n').filter((l) => l.startsWith('go install') && !l.startsWith('go install -n'));
  expect(compiles).toEqual([
    'go install -trimpath -gcflags=all=-dwarf=false -ldflags -s -w go.temporal.io/server/cmd/server@v1.29.1 go.temporal.io/server/cmd/tools/sql@v1.29.1',
    'go install -trimpath -gcflags=all=-dwarf=false -ldflags -s -w github.com/temporalio/ui-server/v2/cmd/server@v2.42.1',
  ]);
  expect(goLog()).toMatch(/^go install -n go.temporal.io\/server\/cmd\/server@v1.29.1 go.temporal.io\/server\/cmd\/tools\/sql@v1.29.1$/m);
  expect(first.stderr).toMatch(/Temporal server v1.29.1: Go modules downloaded \(\d+\.\d s\); compiling/);

  // Reused: no go at all the second time.
  rmSync(path.join(dir, 'go.log'));
  const second = run(printPaths);
  expect(second.stdout).toBe(first.stdout);
  expect(second.stderr).toContain('Temporal server v1.29.1 and its SQL tool: cached in');
  expect(second.stderr).toContain('Temporal UI server v2.42.1: cached in');
  expect(goLog()).toBe('');
});

test('a failed compile stops with the end of its log and leaves nothing in the cache', () => {
  writeFileSync(path.join(dir, 'fail'), '');
  const result = run(printPaths);
  expect(result.status).not.toBe(0);
  expect(result.stderr).toContain('compile error');
  expect(result.stderr).toMatch(/error: building Temporal server v1.29.1 with 'go install' failed/);
  expect(result.stderr).toContain('error: the Temporal server v1.29.1 was not built');
  expect(readdirSync(path.join(dir, 'tools')).filter((f) => f.startsWith('temporal-server-1.29.1') && !f.endsWith('.log'))).toEqual([]);
});
