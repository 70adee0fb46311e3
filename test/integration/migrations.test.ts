import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDb, type Db, migrate, migrationsDir } from '../../platform/db';
import { createLogger } from '../../platform/logger';
import { startPostgres, type TestPostgres } from '../support/servers';

/**
 * Migrations run by node-pg-migrate against a real Postgres: the worker and the API migrating a fresh
 * database at the same moment, a failing migration leaving the earlier ones in place, and a database the
 * former hand-written runner migrated (`schema_migrations`) brought over without running anything twice.
 */
let pg: TestPostgres;
let admin: Db;
const opened: Db[] = [];
const FILES = readdirSync(migrationsDir()).filter((f) => f.endsWith('.sql')).sort();
const NAMES = FILES.map((f) => f.replace(/\.sql$/, ''));

beforeAll(async () => {
  pg = await startPostgres();
  admin = createDb(pg.url, { max: 1 });
});

afterAll(async () => {
  await Promise.all(opened.map((db) => db.close()));
  await admin?.close();
  await pg?.cleanup();
});

let databases = 0;
/** A fresh, empty database on the test cluster, and a way to open pools on it. */
async function freshDatabase(): Promise<{ open: () => Db }> {
  const name = `migrations_${++databases}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = pg.url.replace(/\/[^/]+$/, `/${name}`);
  return {
    open: () => {
      const db = createDb(url, { max: 2 });
      opened.push(db);
      return db;
    },
  };
}

const recorded = async (db: Db) => (await db.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY run_on, id')).map((r) => r.name);
const tables = async (db: Db) =>
  (await db.query<{ t: string }>(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`)).map((r) => r.t);

test('the worker and the API migrating a fresh database at once: both succeed, each migration runs once', async () => {
  const database = await freshDatabase();
  const [worker, api, third] = [database.open(), database.open(), database.open()];
  const results = await Promise.all([migrate(worker), migrate(api), migrate(third)]);

  expect(results.map((r) => r.length).sort()).toEqual([0, 0, FILES.length]);
  expect(results.find((r) => r.length > 0)).toEqual([
    { version: '20261121045540000', name: 'cases' },
    { version: '20261121052740000', name: 'policies' },
    { version: '20261121061007000', name: 'deadlines' },
    { version: '20261129195323000', name: 'convergence' },
    { version: '20261130012500000', name: 'report-aggregates' },
    { version: '20261204210000000', name: 'row-fingerprints' },
    { version: '20261205030000000', name: 'opening-fence' },
    { version: '20261205041500000', name: 'opening-fence-time' },
  ]);
  expect(await recorded(worker)).toEqual(NAMES);
  expect(await tables(worker)).toEqual(expect.arrayContaining(['cases', 'deadlines', 'case_policies', 'policy_revisions', 'policy_fanouts', 'pgmigrations']));
  // Run again: nothing left to do, and the lock was released (this would wait for ever otherwise).
  expect(await migrate(api)).toEqual([]);
});

test('each migration is its own transaction: a failing one is rolled back alone and the next run retries only it', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sfe-migrations-'));
  try {
    cpSync(migrationsDir(), dir, { recursive: true });
    const bad = path.join(dir, '20991231000000000_broken.sql');
    writeFileSync(bad, '-- Up Migration\nCREATE TABLE half_done (id int);\nSELECT no_such_function();\n');
    const db = (await freshDatabase()).open();
    const lines: string[] = [];

    await expect(migrate(db, { dir, logger: createLogger('debug', {}, (l) => lines.push(l)) })).rejects.toThrow(/no_such_function/);
    expect(await recorded(db)).toEqual(NAMES);
    expect(await tables(db)).not.toContain('half_done');

    writeFileSync(bad, '-- Up Migration\nCREATE TABLE half_done (id int);\n');
    expect(await migrate(db, { dir })).toEqual([{ version: '20991231000000000', name: 'broken' }]);
    expect(await recorded(db)).toEqual([...NAMES, '20991231000000000_broken']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The migrations the former runner knew (001-004); later files only node-pg-migrate ever applied. */
const LEGACY_FILES = FILES.slice(0, 4);

/** What the former runner left: the same SQL applied, and its table with one row per version. */
async function migrateTheFormerWay(db: Db, versions: number): Promise<void> {
  await db.query(`CREATE TABLE schema_migrations (version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  for (const [i, file] of LEGACY_FILES.slice(0, versions).entries()) {
    await db.query(readFileSync(path.join(migrationsDir(), file), 'utf8'));
    await db.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [String(i + 1).padStart(3, '0'), file.replace(/^\d+_|\.sql$/g, ''), 'sha256-of-the-old-file']);
  }
}

test('a database the former runner migrated is brought over: its migrations are recorded, not run again', async () => {
  const db = (await freshDatabase()).open();
  await migrateTheFormerWay(db, LEGACY_FILES.length);
  await db.query(`INSERT INTO policy_revisions (policy_id, revision, title, effective_from, scope, effects, position) VALUES ('p', 1, 't', '2020-03-20', '{"type":"all"}', '[]', 1)`);

  // Only what came after the former runner runs.
  expect(await migrate(db)).toEqual([
    { version: '20261130012500000', name: 'report-aggregates' },
    { version: '20261204210000000', name: 'row-fingerprints' },
    { version: '20261205030000000', name: 'opening-fence' },
    { version: '20261205041500000', name: 'opening-fence-time' },
  ]);
  expect(await recorded(db)).toEqual(NAMES);
  expect(await db.query('SELECT policy_id FROM policy_revisions')).toEqual([{ policy_id: 'p' }]);
  expect(await migrate(db)).toEqual([]);
});

test('a database the former runner migrated only part of the way gets the rest', async () => {
  const db = (await freshDatabase()).open();
  await migrateTheFormerWay(db, 3);

  expect(await migrate(db)).toEqual([
    { version: '20261129195323000', name: 'convergence' },
    { version: '20261130012500000', name: 'report-aggregates' },
    { version: '20261204210000000', name: 'row-fingerprints' },
    { version: '20261205030000000', name: 'opening-fence' },
    { version: '20261205041500000', name: 'opening-fence-time' },
  ]);
  expect(await recorded(db)).toEqual(NAMES);
});

test('a former-runner version this code does not know is refused, naming it', async () => {
  const db = (await freshDatabase()).open();
  await migrateTheFormerWay(db, 1);
  await db.query(`INSERT INTO schema_migrations (version, name, checksum) VALUES ('005', 'future', 'x')`);

  await expect(migrate(db)).rejects.toThrow('schema_migrations holds 001, 005; this code knows 001, 002, 003, 004 of the former runner, applied in order');
  expect(await tables(db)).not.toContain('pgmigrations');
});
