import { loadConfigOrExit, requirePayloadKeyring } from '../platform/config';
import { createDb, migrate } from '../platform/db';
import { createLogger } from '../platform/logger';
import { connectClient } from '../platform/temporal';
import { createApi } from './app';

/** How often an API instance looks for fan-outs that were stored but not started. */
const PENDING_FANOUT_INTERVAL_MS = 5_000;
/** A row younger than this belongs to a publication still under way in some API instance. */
const PENDING_FANOUT_GRACE_MS = 2_000;

/** Production entry point of the API role, configured only by environment variables. */
async function main(): Promise<void> {
  const config = loadConfigOrExit('api');
  if (config.apiKeys.length === 0) {
    process.stderr.write('api: API_KEYS is required (role:key pairs; roles case-system, ops, reader): the API does not run open\n');
    process.exit(78);
  }
  const keyring = requirePayloadKeyring(config, 'api');
  // `service`, not `role`: `role` is the key's role in each request line.
  const logger = createLogger(config.logLevel, { service: 'api' });
  const db = createDb(config.databaseUrl);
  await migrate(db, { logger });
  const client = await connectClient(config.temporal, keyring);
  const { app, policies } = createApi({
    client,
    db,
    temporal: config.temporal,
    logger,
    apiKeys: config.apiKeys,
    writeRatePerSecond: config.writeRatePerSecond,
    readRatePerSecond: config.readRatePerSecond,
    apiInstances: config.apiInstances,
    trustProxy: config.trustProxy,
    fanoutSignalsPerSecond: config.fanoutSignalsPerSecond,
    fanoutMaxInFlight: config.fanoutMaxInFlight,
    fanoutVisibilityLagMs: config.fanoutVisibilityLagMs,
    publicUrl: config.apiPublicUrl,
    codec: { keyring, corsOrigins: config.codecCorsOrigins },
    metricsKey: config.metricsKey,
  });
  const server = app.listen(config.port, () => logger.info('api listening', { port: config.port }));
  // A publication whose API died (or lost Temporal) between storing it and starting its fan-out left a
  // pending row: every API instance starts such fan-outs, at start and then every few seconds. The fan-out's
  // workflow id makes the start happen once, whoever gets there first.
  let scanning: Promise<unknown> | undefined;
  const startPending = () => {
    // One scan at a time: while Temporal or Postgres is unreachable a scan can outlast the interval.
    scanning ??= policies
      .startPendingFanouts(undefined, PENDING_FANOUT_GRACE_MS)
      .catch((err: unknown) => logger.warn('pending fan-outs not started', { error: err instanceof Error ? err.message : String(err) }))
      .finally(() => (scanning = undefined));
  };
  void startPending();
  const pendingTimer = setInterval(() => void startPending(), PENDING_FANOUT_INTERVAL_MS);
  const stop = () => {
    logger.info('api stopping');
    clearInterval(pendingTimer);
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
