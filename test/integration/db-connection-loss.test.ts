import { createDb, type Db } from '../../platform/db';
import { startPostgres, type TestPostgres } from '../support/servers';
import { eventually } from '../support/system';

/**
 * A connection lost while checked out (Postgres restarted, or the backend killed under a fan-out's lock or a
 * read-model write) must fail only the work that held it: the caller gets the rejection, the process lives,
 * and the pool hands out a working connection next.
 */
let pg: TestPostgres;
let admin: Db;
let db: Db;

beforeAll(async () => {
  pg = await startPostgres();
  admin = createDb(pg.url, { max: 1 });
  db = createDb(pg.url, { max: 1 });
});

afterAll(async () => {
  await db?.close();
  await admin?.close();
  await pg?.cleanup();
});

/** Runs work on a connection of `db`, kills that connection's backend once work is under way, and returns how work ended. */
async function killedDuring(run: (work: (sql: (text: string) => Promise<unknown>) => Promise<unknown>) => Promise<unknown>): Promise<unknown> {
  const crashes: unknown[] = [];
  const onCrash = (err: unknown) => crashes.push(err);
  process.on('uncaughtException', onCrash);
  try {
    const outcome = run(async (sql) => {
      await sql('SELECT pg_sleep(60)');
    }).then(
      () => 'finished',
      (err: Error) => err.message,
    );
    const killed = await eventually(
      async () =>
        (
          await admin.query<{ n: number }>(
            `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND pid <> pg_backend_pid()`,
          )
        )[0]!.n,
      (n) => n > 0,
      'the sleeping backend',
    );
    expect(killed).toBe(1);
    const ended = await outcome;
    await new Promise((r) => setTimeout(r, 200));
    expect(crashes).toEqual([]);
    return ended;
  } finally {
    process.removeListener('uncaughtException', onCrash);
  }
}

test('a transaction whose connection is killed rejects, and the next one runs', async () => {
  const ended = await killedDuring((work) => db.transaction((tx) => work((text) => tx.query(text))));
  expect(ended).toMatch(/terminat/i);
  expect(await db.transaction(async (tx) => (await tx.query('SELECT 41 + 1 AS n')).rows[0].n)).toBe(42);
});

test('a session whose connection is killed rejects, and the next one runs', async () => {
  const ended = await killedDuring((work) => db.session((client) => work((text) => client.query(text))));
  expect(ended).toMatch(/terminat/i);
  expect(await db.session(async (client) => (await client.query('SELECT 41 + 1 AS n')).rows[0].n)).toBe(42);
});
