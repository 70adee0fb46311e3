import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createActivities } from '../activities';
import { loadConfigOrExit, requirePayloadKeyring } from '../platform/config';
import { createDb, migrate } from '../platform/db';
import { createLogger } from '../platform/logger';
import { connectClient, connectWorker } from '../platform/temporal';
import { caseCacheSize, createCaseWorker } from './worker';

/** Production entry point of the worker role, configured only by environment variables. */
async function main(): Promise<void> {
  const config = loadConfigOrExit('worker');
  const keyring = requirePayloadKeyring(config, 'worker');
  // `service`, not `role`: `role` is an API key's role in the API's request lines.
  const logger = createLogger(config.logLevel, { service: 'worker' });
  // Before anything is connected or migrated: a budget its threads cannot share stops the worker here.
  const cacheSetting = { cases: config.workerMaxCachedWorkflows, memoryMb: config.workerMemoryMb, workflowThreads: config.workerWorkflowThreads };
  const cache = caseCacheSize(cacheSetting);
  // The SDK's own logs (worker, workflows, activities) as lines of the same logger at the same level, and its
  // metrics (task latencies, slots, polls) for Prometheus.
  const sdkLogger = logger.child({ source: 'temporal-sdk' });
  Runtime.install({
    logger: new DefaultLogger(config.logLevel.toUpperCase() as 'DEBUG' | 'INFO' | 'WARN' | 'ERROR', ({ level, message, meta }) =>
      sdkLogger[level === 'TRACE' ? 'debug' : (level.toLowerCase() as 'debug' | 'info' | 'warn' | 'error')](message, meta),
    ),
    ...(config.workerMetricsPort ? { telemetryOptions: { metrics: { prometheus: { bindAddress: `0.0.0.0:${config.workerMetricsPort}` } } } } : {}),
  });
  const db = createDb(config.databaseUrl);
  await migrate(db, { logger });
  const connection = await connectWorker(config.temporal);
  // The fan-out's activities list cases through visibility and signal them: they need a client.
  const client = await connectClient(config.temporal, keyring);
  const worker = await createCaseWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    activities: createActivities({ db, logger, client, fanoutMaxInFlight: config.fanoutMaxInFlight }),
    keyring,
    maxCachedWorkflows: cacheSetting.cases,
    memoryMb: cacheSetting.memoryMb,
    workflowThreads: config.workerWorkflowThreads,
    workflowStackTraces: config.workerWorkflowStackTraces,
  });
  logger.info('worker started', {
    payloadKeyId: keyring.currentKeyId,
    taskQueue: config.temporal.taskQueue,
    namespace: config.temporal.namespace,
    address: config.temporal.address,
    cachedCases: cache.cases,
    cacheSizedBy: cache.from,
    ...(cache.workflowThreadHeapMb ? { workflowThreadHeapMb: cache.workflowThreadHeapMb } : {}),
  });
  // Worker.run() returns after SIGINT or SIGTERM, once in-flight tasks are done.
  await worker.run();
  await connection.close();
  await client.connection.close();
  await db.close();
  logger.info('worker stopped');
}

main().catch((err: unknown) => {
  process.stderr.write(`worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
