import { existsSync } from 'node:fs';
import path from 'node:path';
import type * as NodePgMigrate from 'node-pg-migrate/dist/bundle/index';
import { Pool, type PoolClient, type QueryResultRow } from 'pg';
import { type Logger } from './logger';

/** The one module that owns the Postgres pool. All SQL goes through here, always parameterised. */
export interface Db {
  /**
   * A named query is parsed and planned once per connection and then reused: for statements run very
   * often (the read model's write), where planning would cost more than executing.
   */
  query<R extends QueryResultRow = QueryResultRow>(text: string, params?: unknown[], options?: { name?: string }): Promise<R[]>;
  transaction<T>(work: (tx: PoolClient) => Promise<T>): Promise<T>;
  /**
   * Runs work on one connection outside a transaction, for session state such as an advisory lock. A
   * connection whose work failed is closed, not reused, so no lock or aborted transaction outlives it.
   */
  session<T>(work: (client: PoolClient) => Promise<T>): Promise<T>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function createDb(databaseUrl: string, options: { max?: number } = {}): Db {
  const pool = new Pool({
    connectionString: databaseUrl,
    max: options.max ?? 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its server (Postgres restarted) must not crash the process.
  pool.on('error', () => undefined);
  return {
    async query(text, params, options) {
      const result = options?.name ? await pool.query({ name: options.name, text, values: params }) : await pool.query(text, params);
      return result.rows;
    },
    async transaction(work) {
      const client = await checkOut(pool);
      try {
        await client.query('BEGIN');
        const value = await work(client);
        await client.query('COMMIT');
        return value;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    async session(work) {
      const client = await checkOut(pool);
      let failed: Error | undefined;
      try {
        return await work(client);
      } catch (err) {
        failed = err instanceof Error ? err : new Error(String(err));
        throw err;
      } finally {
        client.release(failed);
      }
    },
    async ping() {
      await pool.query('SELECT 1');
    },
    close: () => pool.end(),
  };
}

/**
 * A checked-out client has no pool listener: if its server goes away it emits 'error', and an 'error' with no
 * listener ends the process. The failure already reaches the caller as the rejected query, so the event only
 * needs a listener; the client is released with the error and not reused.
 */
async function checkOut(pool: Pool): Promise<PoolClient> {
  const client = await pool.connect();
  client.on('error', ignoreCheckedOutError);
  const release = client.release.bind(client);
  client.release = (err?: Error | boolean) => {
    client.removeListener('error', ignoreCheckedOutError);
    release(err);
  };
  return client;
}

function ignoreCheckedOutError(): void {
  // The rejected query carries the failure to the caller.
}

export interface AppliedMigration {
  version: string;
  name: string;
}

/** The table node-pg-migrate records applied migrations in (its default, so its CLI finds it too). */
const MIGRATIONS_TABLE = 'pgmigrations';

/**
 * What the hand-written runner this replaces recorded in `schema_migrations` (its version), and the file each
 * became in node-pg-migrate's format. A database it migrated has these applied already.
 */
const LEGACY_MIGRATIONS: [version: string, name: string][] = [
  ['001', '20261121045540000_cases'],
  ['002', '20261121052740000_policies'],
  ['003', '20261121061007000_deadlines'],
  ['004', '20261129195323000_convergence'],
];

/**
 * Applies migrations/<UTC timestamp>_<name>.sql with node-pg-migrate, in order, each once, each in its own
 * transaction. The worker and the API both call this at start: node-pg-migrate only tries its advisory lock
 * and fails when another process holds it, so this first waits for that same lock on the session the tool
 * then runs on (advisory locks are re-entrant per session). A `node-pg-migrate up` run by hand takes the
 * same lock. A database last migrated by the former runner (`schema_migrations`) has its migrations recorded
 * as run first, without running them again.
 */
export async function migrate(db: Db, options: { dir?: string; logger?: Logger } = {}): Promise<AppliedMigration[]> {
  const { runner, PG_MIGRATE_LOCK_ID } = loadNodePgMigrate();
  const dir = options.dir ?? migrationsDir();
  const logger = options.logger;
  const common = {
    dir,
    migrationsTable: MIGRATIONS_TABLE,
    direction: 'up',
    singleTransaction: false,
    checkOrder: true,
    lockValue: PG_MIGRATE_LOCK_ID,
    // The tool narrates every step at info; only its warnings and errors are worth a line here.
    logger: {
      debug: (msg: string) => logger?.debug(msg),
      info: (msg: string) => logger?.debug(msg),
      warn: (msg: string) => logger?.warn(msg),
      error: (msg: string) => logger?.error(msg),
    },
  } as const;
  return db.session(async (client) => {
    // On failure the session's connection is closed (see session()), which releases the lock with it.
    await client.query('SELECT pg_advisory_lock($1)', [PG_MIGRATE_LOCK_ID]);
    const legacy = await legacyMigrationsToAdopt(client);
    if (legacy > 0) {
      await runner({ ...common, dbClient: client, fake: true, count: legacy });
      logger?.info('migrations of the former runner recorded as run', { migrations: legacy });
    }
    const applied = await runner({ ...common, dbClient: client });
    await client.query('SELECT pg_advisory_unlock($1)', [PG_MIGRATE_LOCK_ID]);
    for (const m of applied) logger?.info('migration applied', { migration: m.name });
    return applied.map((m) => ({ version: m.name.slice(0, m.name.indexOf('_')), name: m.name.slice(m.name.indexOf('_') + 1) }));
  });
}

/**
 * How many of the first migrations the former runner applied, when its `schema_migrations` exists and
 * node-pg-migrate's table does not yet: the database is brought over once. A version the list above does not
 * know means the database is newer than this code, which is refused rather than guessed.
 */
async function legacyMigrationsToAdopt(client: PoolClient): Promise<number> {
  const { rows: tables } = await client.query<{ legacy: string | null; current: string | null }>(
    `SELECT to_regclass('schema_migrations')::text AS legacy, to_regclass('public.${MIGRATIONS_TABLE}')::text AS current`,
  );
  if (!tables[0]?.legacy || tables[0].current) return 0;
  const { rows } = await client.query<{ version: string }>('SELECT version FROM schema_migrations ORDER BY version');
  const versions = rows.map((r) => r.version);
  const expected = LEGACY_MIGRATIONS.slice(0, versions.length).map(([version]) => version);
  if (versions.join() !== expected.join()) {
    throw new Error(`schema_migrations holds ${versions.join(', ')}; this code knows ${LEGACY_MIGRATIONS.map(([v]) => v).join(', ')} of the former runner, applied in order`);
  }
  return versions.length;
}

/**
 * node-pg-migrate 8 is an ES module: Node 20.19 and later require() it; TypeScript finds its types only by
 * path under this project's CommonJS module resolution. Loaded on first use, so processes that never
 * migrate (the ops CLI) never load it.
 */
function loadNodePgMigrate(): typeof NodePgMigrate {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('node-pg-migrate') as typeof NodePgMigrate;
}

/** migrations/ sits at the repository root (and /app in the image); code runs from platform/ or dist/platform/. */
export function migrationsDir(): string {
  for (const candidate of [path.resolve(__dirname, '..', 'migrations'), path.resolve(__dirname, '..', '..', 'migrations')]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`migrations folder not found next to ${__dirname}`);
}
