import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The decisions of dev/tools/rust.sh about the SDK's native bridge, on a made-up package with a stub
 * cargo (the real build takes minutes): `npm test` and the benchmarks build the patched bridge before they
 * run (ensure_core_bridge build); `npm run dev` never waits for it (ensure_core_bridge background): it keeps
 * the prebuilt one for this run and builds the patched one at nice 19, stopped with the stack; the module
 * in node_modules is only ever replaced by a rename, never written into (a running worker has it mapped).
 */
const repo = path.resolve(__dirname, '..', '..');
const linuxX64 = process.platform === 'linux' && process.arch === 'x64';
const hasChrt = spawnSync('bash', ['-c', 'command -v chrt']).status === 0;

let dir: string;
let owners: ChildProcess[];
const installed = () => path.join(dir, 'root', 'node_modules', '@temporalio', 'core-bridge', 'releases', 'x86_64-unknown-linux-gnu', 'index.node');
const cacheDir = () => {
  const digest = spawnSync('bash', ['-c', 'cat patches/sdk-core-*.patch | sha256sum | cut -c1-12'], { cwd: path.join(dir, 'root'), encoding: 'utf8' }).stdout.trim();
  return path.join(dir, 'tools', `temporal-core-bridge-9.9.9-${digest}`);
};
const cargoLog = () => (existsSync(path.join(dir, 'cargo.log')) ? readFileSync(path.join(dir, 'cargo.log'), 'utf8') : '');

// `cargo run` (finding protoc) prints a path; `cargo build` records its niceness, waits while the file
// `block` exists, notes whether its target folder held an earlier, stopped build, and "compiles" src/lib.rs.
const stubCargo = `#!/usr/bin/env bash
set -e
case "$1" in
  run) echo /bin/true ;;
  build)
    mkdir -p "$CARGO_TARGET_DIR/release"
    echo "build niceness=$(nice) policy=$(chrt -p $$ 2>/dev/null | sed -n 's/.*scheduling policy: //p' | head -1) resumed=$([ -f "$CARGO_TARGET_DIR/started" ] && echo yes || echo no) pid=$$" >>"$STUB_DIR/cargo.log"
    touch "$CARGO_TARGET_DIR/started"
    while [ -e "$STUB_DIR/block" ]; do sleep 0.1; done
    cp src/lib.rs "$CARGO_TARGET_DIR/release/libtemporal_sdk_typescript_bridge.so" ;;
  *) exit 2 ;;
esac
`;

const patch = `--- a/src/lib.rs
+++ b/src/lib.rs
@@ -1 +1 @@
-original
+patched
`;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sfe-bridge-'));
  owners = [];
  const pkg = path.join(dir, 'root', 'node_modules', '@temporalio', 'core-bridge');
  mkdirSync(path.join(pkg, 'src'), { recursive: true });
  mkdirSync(path.dirname(installed()), { recursive: true });
  writeFileSync(path.join(pkg, 'package.json'), '{ "version": "9.9.9" }\n');
  writeFileSync(path.join(pkg, 'src', 'lib.rs'), 'original\n');
  writeFileSync(installed(), 'prebuilt\n');
  mkdirSync(path.join(dir, 'root', 'patches'));
  writeFileSync(path.join(dir, 'root', 'patches', 'sdk-core-9.9.9-test.patch'), patch);
  mkdirSync(path.join(dir, 'bin'));
  writeFileSync(path.join(dir, 'bin', 'cargo'), stubCargo);
  chmodSync(path.join(dir, 'bin', 'cargo'), 0o755);
});

afterEach(async () => {
  rmSync(path.join(dir, 'block'), { force: true });
  for (const owner of owners) owner.kill('SIGKILL');
  // A background build still running ends with its owner; wait for it before removing its folder.
  await until(() => !lockHeld(), 'the background build to end');
  rmSync(dir, { recursive: true, force: true });
});

/** A process standing in for the local stack, which the background build watches. */
function owner(): number {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' });
  owners.push(child);
  return child.pid!;
}

/** Runs ensure_core_bridge in the made-up clone; its messages and the background build's go to a file. */
function ensure(mode: 'build' | 'background', ownerPid?: number, pathEnv = `${path.join(dir, 'bin')}:${process.env.PATH}`): { state: string; note: string; messages: () => string } {
  const messages = path.join(dir, 'messages.txt');
  const result = spawnSync(
    'bash',
    // As the scripts that source it run: set -euo pipefail.
    ['-c', `set -euo pipefail; exec 2>>"$1"; source "$2"; ensure_core_bridge ${mode} ${ownerPid ?? ''}; echo "$SFE_CORE_BRIDGE_STATE"; echo "$SFE_CORE_BRIDGE_NOTE"`, 'ensure', messages, path.join(repo, 'dev', 'tools', 'all.sh')],
    // A bound so that a hang fails the test instead of blocking Jest (spawnSync holds its event loop).
    { cwd: path.join(dir, 'root'), encoding: 'utf8', timeout: 60_000, env: { ...process.env, PATH: pathEnv, SFE_TOOLS_DIR: path.join(dir, 'tools'), STUB_DIR: dir, PROTOC: '' } },
  );
  if (result.status !== 0) throw new Error(`ensure_core_bridge ${mode} failed (${result.status}):\n${readFileSync(messages, 'utf8')}`);
  const [state = '', note = ''] = result.stdout.split('\n');
  return { state, note, messages: () => readFileSync(messages, 'utf8') };
}

function lockHeld(): boolean {
  const lock = path.join(dir, 'tools', '.core-bridge.lock');
  return existsSync(lock) && spawnSync('flock', ['-n', lock, 'true']).status !== 0;
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`waited in vain for ${what}; cargo: ${cargoLog()}`);
}

const read = (file: string) => readFileSync(file, 'utf8');

(linuxX64 ? describe : describe.skip)('the SDK bridge with patches/ (dev/tools/rust.sh)', () => {
  test('npm test and the benchmarks: a missing patched bridge is built first, at their own priority, and installed', () => {
    const { state } = ensure('build');
    expect(state).toBe('patched');
    expect(read(installed())).toBe('patched\n');
    expect(read(path.join(cacheDir(), 'index.node'))).toBe('patched\n');
    expect(cargoLog()).toContain(`niceness=${os.getPriority()} `);
    expect(cargoLog()).not.toContain('SCHED_IDLE');
  });

  test('a cached patched bridge is installed by renaming a new file over the old one, never by writing into it', () => {
    mkdirSync(cacheDir(), { recursive: true });
    writeFileSync(path.join(cacheDir(), 'index.node'), 'patched earlier\n');
    // A second name for the installed file stands for the mapping a running worker holds.
    linkSync(installed(), path.join(dir, 'as-a-running-worker-sees-it'));
    const before = statSync(installed()).ino;

    const { state, messages } = ensure('background', owner());

    expect(state).toBe('patched');
    expect(read(installed())).toBe('patched earlier\n');
    expect(statSync(installed()).ino).not.toBe(before);
    expect(read(path.join(dir, 'as-a-running-worker-sees-it'))).toBe('prebuilt\n');
    expect(cargoLog()).toBe('');
    expect(messages()).toContain('SDK bridge with patches/: cached');
  });

  test('npm run dev: a missing patched bridge is not waited for; the prebuilt one runs, the patched one builds at nice 19 for the next start', async () => {
    const { state, note, messages } = ensure('background', owner());

    expect(state).toBe('building');
    expect(note).toContain('built in the background at nice 19');
    expect(messages()).toMatch(/this run uses the SDK's prebuilt one .*the next start uses it/);
    await until(() => existsSync(path.join(cacheDir(), 'index.node')), 'the background build');
    expect(cargoLog()).toContain('niceness=19 ');
    if (hasChrt) expect(cargoLog()).toContain('policy=SCHED_IDLE ');
    // This run keeps the module it started with; the background build never touches node_modules.
    expect(read(installed())).toBe('prebuilt\n');
    await until(() => messages().includes('built in the background'), 'the note that the build is done');

    // The next start installs it.
    expect(ensure('background', owner()).state).toBe('patched');
    expect(read(installed())).toBe('patched\n');
  });

  test('the background build stops with the stack, and the next build resumes from what it compiled', async () => {
    writeFileSync(path.join(dir, 'block'), '');
    const stack = owner();
    ensure('background', stack);
    await until(() => cargoLog().includes('build '), 'cargo to start');
    const cargoPid = Number(/pid=(\d+)/.exec(cargoLog())![1]);

    process.kill(stack, 'SIGKILL');
    await until(() => !existsSync(`/proc/${cargoPid}`), 'cargo to stop with the stack');
    await until(() => !lockHeld(), 'the lock to be released');
    expect(existsSync(path.join(cacheDir(), 'index.node'))).toBe(false);
    expect(read(installed())).toBe('prebuilt\n');
    await until(() => read(`${cacheDir()}.log`).includes('stopped with the local stack'), 'the log to say the build stopped');
    expect(existsSync(path.join(dir, 'tools', '.core-bridge.background'))).toBe(false);

    rmSync(path.join(dir, 'block'));
    expect(ensure('build').state).toBe('patched');
    expect(cargoLog().trim().split('\n')[1]).toContain('resumed=yes');
    expect(read(installed())).toBe('patched\n');
  });

  test('npm test while a dev start builds in the background waits for that build instead of starting another', async () => {
    writeFileSync(path.join(dir, 'block'), '');
    ensure('background', owner());
    await until(() => cargoLog().includes('build '), 'cargo to start');
    // Not a timer of this process: ensure() blocks its event loop while it waits. The build may finish only
    // once the second start says it waits (a fixed delay raced a slow start under load); at most 30 s.
    spawn(
      'bash',
      ['-c', 'for _ in $(seq 300); do grep -q "waiting for another build" "$2" 2>/dev/null && break; sleep 0.1; done; rm -f "$1"', 'unblock', path.join(dir, 'block'), path.join(dir, 'messages.txt')],
      { stdio: 'ignore' },
    );

    const { state, messages } = ensure('build');

    expect(state).toBe('patched');
    expect(messages()).toContain('waiting for another build of core-bridge');
    expect(cargoLog().trim().split('\n')).toHaveLength(1);
    expect(read(installed())).toBe('patched\n');
  });

  test('without cargo the prebuilt bridge runs, with a warning naming what to install', () => {
    const withoutCargo = (process.env.PATH ?? '')
      .split(':')
      .filter((p) => p && !existsSync(path.join(p, 'cargo')))
      .join(':');
    const { state, messages } = ensure('build', undefined, withoutCargo);
    expect(state).toBe('prebuilt');
    expect(messages()).toMatch(/warning: .*cargo is not on PATH.*rustup/);
    expect(read(installed())).toBe('prebuilt\n');
  });
});

/**
 * The Temporal CLI's first build (dev/tools/go.sh, start_temporal_cli / finish_temporal_cli) runs in the
 * background while the next setup steps run, and never outlives the script that started it. A stub go:
 * `go install -n` (the module download) returns at once; the compile waits for the file `go-may-finish`.
 */
const stubGo = `#!/usr/bin/env bash
echo "go $* pid=$$" >>"$STUB_DIR/go.log"
[ "$2" = "-n" ] && exit 0
while [ ! -e "$STUB_DIR/go-may-finish" ]; do sleep 0.1; done
printf '#!/bin/sh\\necho "temporal version 1.5.1"\\n' >"$GOBIN/temporal"
chmod +x "$GOBIN/temporal"
`;

(linuxX64 ? describe : describe.skip)('the Temporal CLI built in the background (dev/tools/go.sh)', () => {
  let goDir: string;
  beforeEach(() => {
    goDir = mkdtempSync(path.join(os.tmpdir(), 'sfe-go-'));
    mkdirSync(path.join(goDir, 'bin'));
    writeFileSync(path.join(goDir, 'bin', 'go'), stubGo);
    chmodSync(path.join(goDir, 'bin', 'go'), 0o755);
  });
  afterEach(() => rmSync(goDir, { recursive: true, force: true }));

  // Another `temporal` on PATH would be used instead of building one: PATH keeps only the stub's folder and the system's.
  const run = (script: string) =>
    spawnSync('bash', ['-c', `set -euo pipefail; source "$1"; ${script}`, 'run', path.join(repo, 'dev', 'tools', 'all.sh')], {
      cwd: repo,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, PATH: `${path.join(goDir, 'bin')}:/usr/local/bin:/usr/bin:/bin`, SFE_TOOLS_DIR: path.join(goDir, 'tools'), STUB_DIR: goDir, TEMPORAL_CLI_PATH: '' },
    });
  const goLog = () => (existsSync(path.join(goDir, 'go.log')) ? read(path.join(goDir, 'go.log')) : '');

  test('the next steps run while it builds; then it is waited for, with each pass and the whole timed', () => {
    // The compile can only finish once a step after start_temporal_cli has run.
    const result = run(`start_temporal_cli; touch "$STUB_DIR/go-may-finish"; finish_temporal_cli; "$TEMPORAL_CLI_PATH"`);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('temporal version 1.5.1');
    expect(goLog()).toMatch(/^go install -n github.com\/temporalio\/cli\/cmd\/temporal@v1.5.1 /m);
    expect(result.stderr).toMatch(/Temporal CLI: Go modules downloaded \(\d+\.\d s\); compiling/);
    expect(result.stderr).toMatch(/==> Building the Temporal CLI v1.5.1: built \(\d/);
    // Cached from now on.
    expect(run('start_temporal_cli; finish_temporal_cli').stderr).toContain('Temporal CLI v1.5.1: cached in');
  });

  test('a step that fails meanwhile stops the build: nothing is left building', async () => {
    const result = run('start_temporal_cli; until grep -q "temporalcli.Version" "$STUB_DIR/go.log" 2>/dev/null; do sleep 0.1; done; false');
    expect(result.status).toBe(1);
    const compilePid = Number(/temporalcli.Version\S* \S+ pid=(\d+)/.exec(goLog())![1]);
    await until(() => !existsSync(`/proc/${compilePid}`), 'the compile to stop');
    expect(existsSync(path.join(goDir, 'tools', 'temporal-cli-1.5.1', 'temporal'))).toBe(false);
  });
});
