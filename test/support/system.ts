import { type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { type Client } from '@temporalio/client';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type Express } from 'express';
import { type Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { createCaseWorker } from '../../worker/worker';
import { createApp } from '../../api/app';
import { createDb, type Db, migrate } from '../../platform/db';
import { type ApiKey, type Role } from '../../platform/config';
import { createLogger } from '../../platform/logger';
import { eventually } from './eventually';
import { bundleCaseWorkflows, startDevServer, startPostgres, type TestPostgres, testKeyring } from './servers';

/**
 * The whole system in one test process: the real Temporal dev server and Postgres, a worker running the
 * real activities, and the API on a free port. `inProcessWorker: false` leaves the worker to the test.
 */
export interface TestSystem {
  pg: TestPostgres;
  env: TestWorkflowEnvironment;
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
  api(method: string, path: string, body?: unknown, role?: Role | null): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

/** The role a route is for: operations publish policies, readers read reports, case systems do the rest. */
export function defaultRole(method: string, path: string): Role {
  if (path.startsWith('/api/v1/ops')) return 'ops';
  if (path.startsWith('/api/v1/policy-changes')) return method === 'GET' ? 'reader' : 'ops';
  if (path.startsWith('/api/v1/reports')) return 'reader';
  return 'case-system';
}

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
  const [pg, env] = await Promise.all([startPostgres(), startDevServer()]);
  const db = createDb(pg.url);
  await migrate(db);
  const logLines: string[] = [];
  const logger = createLogger('debug', {}, (line) => logLines.push(line));
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  if (options.inProcessWorker !== false) {
    worker = await createCaseWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue: options.taskQueue,
      workflowBundle: await bundleCaseWorkflows(),
      activities: createActivities({ db, logger, client: env.client }),
      keyring: testKeyring().keyring,
      maxCachedWorkflows: options.maxCachedWorkflows,
    });
    running = worker.run();
  }
  const address = (env.connection as unknown as { options: { address: string } }).options.address;
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
    pg,
    env,
    worker,
    db,
    base,
    address,
    taskQueue: options.taskQueue,
    logLines,
    keys,
    app,
    async api(method, path, body, role) {
      const as = role === undefined ? defaultRole(method, path) : role;
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(as ? { authorization: `Bearer ${keys[as]}` } : {}),
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    },
    async stop() {
      await new Promise((resolve) => server.close(resolve));
      worker?.shutdown();
      await running;
      await env.teardown();
      await db.close();
      await pg.cleanup();
    },
  };
}

export { eventually } from './eventually';

/**
 * Waits until each case has finished its first workflow task: its first snapshot is in the read model (the
 * activity is scheduled when that task completes, after the case asked the registry what was published since
 * its copy), and visibility lists it. A publication from then on reaches these cases by fan-out only.
 */
export async function settledCases({ db, client }: { db: Db; client: Client }, ids: string[]): Promise<void> {
  await eventually(
    () => db.query<{ n: string }>('SELECT count(*) AS n FROM cases WHERE case_id = ANY($1)', [ids]),
    (rows) => Number(rows[0]!.n) === ids.length,
    'first snapshots',
    300,
  );
  await eventually(
    async () => (await client.workflowService.countWorkflowExecutions({ namespace: 'default', query: `CaseId IN (${ids.map((id) => `'${id}'`).join(',')})` })).count,
    (count) => Number(count) === ids.length,
    'cases visible',
  );
}
