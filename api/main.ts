import { loadConfigOrExit } from '../platform/config';
import { createDb, migrate } from '../platform/db';
import { createLogger } from '../platform/logger';
import { connectClient } from '../platform/temporal';
import { createApp } from './app';

/** Production entry point of the API role, configured only by environment variables. */
async function main(): Promise<void> {
  const config = loadConfigOrExit('api');
  if (config.apiKeys.length === 0) {
    process.stderr.write('api: API_KEYS is required (role:key pairs; roles case-system, ops, reader): the API does not run open\n');
    process.exit(78);
  }
  const logger = createLogger(config.logLevel, { role: 'api' });
  const db = createDb(config.databaseUrl);
  await migrate(db);
  const client = await connectClient(config.temporal);
  const app = createApp({
    client,
    db,
    temporal: config.temporal,
    logger,
    apiKeys: config.apiKeys,
    writeRatePerSecond: config.writeRatePerSecond,
    fanoutSignalsPerSecond: config.fanoutSignalsPerSecond,
  });
  const server = app.listen(config.port, () => logger.info('api listening', { port: config.port }));
  const stop = () => {
    logger.info('api stopping');
    server.close(() => {
      void Promise.allSettled([client.connection.close(), db.close()]).then(() => process.exit(0));
    });
    setTimeout(() => process.exit(0), 10_000).unref();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`api: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
