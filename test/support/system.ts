import { type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { type Express } from 'express';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { createCaseWorker } from '../../worker/worker';
import { createApp } from '../../api/app';
import { createDb, type Db } from '../../platform/db';
import { type ApiKey, type Role } from '../../platform/config';
import { createLogger } from '../../platform/logger';
import { caseDataConverter } from '../../platform/temporal';
import { type Stack, startStack } from '../../dev/stack';
import { type ApiCall, apiCaller } from './api';
import { bundleCaseWorkflows, quietRuntime, testKeyring } from './servers';

/**
 * The whole system in one test process: the real Temporal dev server and Postgres from the one stack harness
 * (dev/stack.ts, with no worker or API process of its own), a worker running the real activities in this
 * process, and the API on a free port, so that a test reads the worker's state, the app's routes and every log
 * line. `inProcessWorker: false` leaves the worker to the test.
 */
export interface TestSystem {
  /** The read model's Postgres: its address, and stopping and starting it again (an outage). */
  pg: { url: string; stop(): Promise<void>; start(): Promise<void> };
  /** Temporal: a client with the test's payload keys, its connection, and a worker's connection. */
  env: { client: Client; connection: Connection; nativeConnection: NativeConnection };
  /** The in-process worker, unless `inProcessWorker: false`. */
  worker?: Worker;
  db: Db;
  base: string;
  address: string;
  taskQueue: string;
  logLines: string[];
  keys: Record<Role, string>;
  app: Express;
  /** Calls the API with the key of `role`; by default the role the route is meant for. */
  api: ApiCall;
  stop(): Promise<void>;
}

export { defaultRole } from './api';

export async function startSystem(options: {
  taskQueue: string;
  inProcessWorker?: boolean;
  fanoutSignalsPerSecond?: number;
  writeRatePerSecond?: number;
  /** Cases the in-process worker keeps in memory (the worker's default otherwise). */
  maxCachedWorkflows?: number;
  /** More API keys besides one national key per role (`keys`), e.g. keys bound to municipalities. */
  extraApiKeys?: ApiKey[];
}): Promise<TestSystem> {
  quietRuntime();
  // In memory, as the SDK's own dev server runs: these suites never restart Temporal.
  const stack = await startStack({ workers: 0, apis: 0, database: 'sygedagpenge_test', taskQueue: options.taskQueue, payloadKeys: testKeyring().spec, temporalDb: 'memory' });
  try {
    return await inProcess(stack, options);
  } catch (err) {
    await stack.stop();
    throw err;
  }
}

/** The worker (unless `inProcessWorker: false`) and the API in this process, on the stack's Temporal and Postgres. */
async function inProcess(stack: Stack, options: Parameters<typeof startSystem>[0]): Promise<TestSystem> {
  const db = createDb(stack.databaseUrl);
  const nativeConnection = await NativeConnection.connect(stack.temporalConnection);
  const connection = await Connection.connect(stack.temporalConnection);
  const env = { client: new Client({ connection, namespace: 'default', dataConverter: caseDataConverter(testKeyring().keyring) }), connection, nativeConnection };
  const logLines: string[] = [];
  const logger = createLogger('debug', {}, (line) => logLines.push(line));
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  if (options.inProcessWorker !== false) {
    worker = await createCaseWorker({
      connection: nativeConnection,
      namespace: 'default',
      taskQueue: options.taskQueue,
      workflowBundle: await bundleCaseWorkflows(),
      activities: createActivities({ db, logger, client: env.client }),
      keyring: testKeyring().keyring,
      maxCachedWorkflows: options.maxCachedWorkflows,
    });
    running = worker.run();
  }
  const address = stack.address;
  const keys: Record<Role, string> = { 'case-system': 'test-key-case-system-0001', ops: 'test-key-ops-000000000001', reader: 'test-key-reader-000000001' };
  const app = createApp({
    client: env.client,
    db,
    apiKeys: [...Object.entries(keys).map(([role, key]) => ({ role: role as Role, key })), ...(options.extraApiKeys ?? [])],
    writeRatePerSecond: options.writeRatePerSecond ?? 10_000,
    temporal: { address, namespace: 'default', taskQueue: options.taskQueue, uiUrl: 'http://localhost:8233' },
    logger,
    fanoutSignalsPerSecond: options.fanoutSignalsPerSecond,
    // The dev server's visibility follows a change within milliseconds; a fan-out's last count waits a second.
    fanoutVisibilityLagMs: 1_000,
    codec: { keyring: testKeyring().keyring, corsOrigins: ['http://localhost:8233'] },
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    pg: { url: stack.databaseUrl, stop: () => stack.stopPostgres(), start: () => stack.startPostgres() },
    env,
    worker,
    db,
    base,
    address,
    taskQueue: options.taskQueue,
    logLines,
    keys,
    app,
    api: apiCaller(() => base, keys),
    async stop() {
      await new Promise((resolve) => server.close(resolve));
      worker?.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
      await db.close();
      await stack.stop();
    },
  };
}

export { eventually } from '../../dev/eventually';

export { settledCases } from './cases';
