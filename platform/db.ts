import { readdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Pool, type PoolClient, type QueryResultRow } from 'pg';

/** The one module that owns the Postgres pool. All SQL goes through here, always parameterised. */
export interface Db {
  /**
   * A named query is parsed and planned once per connection and then reused: for statements run very
   * often (the read model's write), where planning would cost more than executing.
   */
  query<R extends QueryResultRow = QueryResultRow>(text: string, params?: unknown[], options?: { name?: string }): Promise<R[]>;
  transaction<T>(work: (tx: PoolClient) => Promise<T>): Promise<T>;
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
      const client = await pool.connect();
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
    async ping() {
      await pool.query('SELECT 1');
    },
    close: () => pool.end(),
  };
}

export const MIGRATIONS_DIR = path.resolve(__dirname, '..', '..', 'migrations');

export interface AppliedMigration {
  version: string;
  name: string;
}

/**
 * Applies migrations/NNN_name.sql in order, each once, each in its own transaction, under an advisory
 * lock so that a worker and an API starting together do not race. A migration file that changed after
 * it was applied is an error, not silently skipped.
 */
export async function migrate(db: Db, dir = resolveMigrationsDir()): Promise<AppliedMigration[]> {
  const files = readdirSync(dir)
    .filter((f) => /^\d{3,}_[\w-]+\.sql$/.test(f))
    .sort();
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(727001)');
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version text PRIMARY KEY,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await tx.query<{ version: string; checksum: string }>('SELECT version, checksum FROM schema_migrations');
    const applied = new Map(rows.map((r) => [r.version, r.checksum]));
    const done: AppliedMigration[] = [];
    for (const file of files) {
      const [version, ...rest] = file.replace(/\.sql$/, '').split('_');
      const name = rest.join('_');
      const sql = readFileSync(path.join(dir, file), 'utf8');
      const checksum = createHash('sha256').update(sql).digest('hex');
      const seen = applied.get(version!);
      if (seen !== undefined) {
        if (seen !== checksum) throw new Error(`migration ${file} was changed after it was applied; add a new migration instead`);
        continue;
      }
      await tx.query(sql);
      await tx.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [version, name, checksum]);
      done.push({ version: version!, name });
    }
    return done;
  });
}

/** migrations/ sits at the repository root; compiled code runs from dist/platform, sources from platform/. */
function resolveMigrationsDir(): string {
  for (const candidate of [path.resolve(__dirname, '..', 'migrations'), MIGRATIONS_DIR]) {
    try {
      readdirSync(candidate);
      return candidate;
    } catch {
      // try the next location
    }
  }
  throw new Error(`migrations folder not found next to ${__dirname}`);
}
