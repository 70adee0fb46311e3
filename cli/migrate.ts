import { loadConfigOrExit } from '../platform/config';
import { createDb, migrate } from '../platform/db';
import { createLogger } from '../platform/logger';

/**
 * npm run migrate: applies the pending migrations to DATABASE_URL and exits, for a deployment that migrates
 * before it starts the worker and the API (they also migrate at start; the lock makes either order safe).
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit('migrate');
  const logger = createLogger(config.logLevel, { service: 'migrate' });
  const db = createDb(config.databaseUrl, { max: 1 });
  try {
    const applied = await migrate(db, { logger });
    logger.info(applied.length > 0 ? 'migrations applied' : 'database schema is current', { applied: applied.length });
  } finally {
    await db.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`migrate: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
