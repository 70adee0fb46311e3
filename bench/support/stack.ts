import { randomBytes } from 'node:crypto';
import { type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../../api/app';
import { createLogger } from '../../platform/logger';
import { type Role } from '../../platform/config';
import { createDb, type Db } from '../../platform/db';
import { newKeySpec } from '../../platform/payload-codec';
import { type Stack, startStack } from '../../dev/stack';
import { type CpuSeconds, postgresCpuSeconds, processCpuSeconds } from './measure';

/**
 * What the benchmarks run against: the one stack harness (dev/stack.ts) on free ports and a folder of its own,
 * stopped at the end. The worker and the API run as production runs them, each its own process
 * (dist/worker/main.js, dist/api/main.js), with the payloads encrypted as in production, so that each
 * process's CPU is its own. Benchmarks are run on demand (npm run bench:*), never by npm test.
 */
export interface BenchStack {
  db: Db;
  /** The read model's Postgres, for psql while a benchmark holds its stack (bench:reports --hold). */
  pgUrl: string;
  client: Client;
  address: string;
  taskQueue: string;
  /** The (first) API process. */
  api: string;
  keys: Record<Role, string>;
  /** The processes' ids as now (for memory readings). */
  pids: Stack['pids'];
  /** CPU seconds used so far by each part of the stack (Linux /proc); `worker` is all workers together. */
  cpuSeconds(): CpuSeconds;
  /** CPU seconds used so far by each worker. */
  workerCpuSeconds(): number[];
  stop(): Promise<void>;
}

let running: Stack | undefined;

/** Ends the benchmark's processes if it fails half-way. */
export async function abort(err: unknown): Promise<never> {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await running?.stop().catch(() => undefined);
  process.exit(1);
}

// A benchmark stopped by Ctrl-C or kill ends its servers too (they would otherwise outlive it).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void abort(new Error(`stopped by ${signal}`)));

export async function startBenchStack(options: {
  /** false: Postgres only (reports read the read model alone). */
  temporal: boolean;
  /** 'dev' (default): the Temporal CLI's dev server. 'cluster': the Temporal server built from Go modules, as npm run dev -- --cluster runs it. */
  topology?: 'dev' | 'cluster';
  /** Worker processes (default 1). */
  workers?: number;
  fanoutSignalsPerSecond?: number;
  /** The fan-out's bound on cases signalled and not yet applied (FANOUT_MAX_IN_FLIGHT); the worker's default otherwise. */
  fanoutMaxInFlight?: number;
  workerNodeArgs?: string[];
  apiNodeArgs?: string[];
  /**
   * A folder that keeps the stack's data after it stops (dev server only): Postgres, the dev server's SQLite
   * file and the payload keys, so a later stack on the same folder finds the cases again.
   */
  dataDir?: string;
}): Promise<BenchStack> {
  if (options.dataDir && options.topology === 'cluster') throw new Error('a kept data folder is for the dev server only');
  const keys = { 'case-system': randomBytes(24).toString('base64url'), ops: randomBytes(24).toString('base64url'), reader: randomBytes(24).toString('base64url') };
  const stack = await startStack({
    topology: options.topology,
    temporal: options.temporal,
    workers: options.workers ?? 1,
    apis: 1,
    dataDir: options.dataDir,
    // In memory, as the benchmarks' dev server always ran, unless the folder is kept.
    temporalDb: options.dataDir ? 'file' : 'memory',
    database: 'bench',
    taskQueue: 'bench',
    keys,
    // A kept folder keeps its key (made there at the first start); a new one a new key.
    payloadKeys: options.dataDir ? undefined : newKeySpec('bench'),
    onStarting: (stop) => (running = { stop } as Stack),
    logLevel: 'error',
    workerEnv: {
      LOG_LEVEL: 'warn',
      // The worker's activities signal the fan-out's pages, so the window is the worker's setting.
      ...(options.fanoutMaxInFlight ? { FANOUT_MAX_IN_FLIGHT: String(options.fanoutMaxInFlight) } : {}),
    },
    apiEnv: {
      API_WRITE_RATE_PER_SECOND: '100000',
      API_READ_RATE_PER_SECOND: '100000',
      // The API starts the fan-outs, so their bound is the API process's.
      ...(options.fanoutSignalsPerSecond ? { FANOUT_SIGNALS_PER_SECOND: String(options.fanoutSignalsPerSecond) } : {}),
    },
    workerNodeArgs: options.workerNodeArgs,
    apiNodeArgs: options.apiNodeArgs,
    // Never the environment's database or keys: a benchmark writes only into its own stack.
    env: withoutStackSettings(process.env),
  });
  running = stack;
  const db = createDb(stack.databaseUrl, { max: 20 });
  // Without Temporal (bench:reports reads Postgres only) the stack runs no API process, whose readiness needs
  // Temporal: the API runs in this process on a client that never connects.
  const inProcess = options.temporal ? undefined : await inProcessApi(stack, db, keys);
  return {
    db,
    pgUrl: stack.databaseUrl,
    client: stack.client,
    address: stack.address,
    taskQueue: stack.taskQueue,
    api: inProcess?.url ?? stack.apiUrls[0]!,
    keys,
    pids: () => stack.pids(),
    workerCpuSeconds: () => stack.pids().workers.map((pid) => processCpuSeconds(pid)),
    cpuSeconds: () => {
      const pids = stack.pids();
      return {
        temporal: processCpuSeconds(pids.temporal),
        worker: pids.workers.reduce<number>((sum, pid) => sum + processCpuSeconds(pid), 0),
        postgres: postgresCpuSeconds(pids.postgresDataDir),
        bench: processCpuSeconds(process.pid),
        api: pids.apis.reduce<number>((sum, pid) => sum + processCpuSeconds(pid), 0),
      };
    },
    async stop() {
      await new Promise((resolve) => inProcess?.server.close(resolve) ?? resolve(undefined));
      await db.close();
      // The API and the workers stop before Postgres (the stack's order), so their last writes do not meet a closing database.
      await stack.stop();
    },
  };
}

async function inProcessApi(stack: Stack, db: Db, keys: Record<Role, string>): Promise<{ url: string; server: Server }> {
  const app = createApp({
    client: new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) }),
    db,
    temporal: { address: '127.0.0.1:1', namespace: stack.namespace, taskQueue: stack.taskQueue, uiUrl: 'http://localhost:8233' },
    logger: createLogger('error'),
    apiKeys: Object.entries(keys).map(([role, key]) => ({ role: role as Role, key })),
    writeRatePerSecond: 100_000,
    readRatePerSecond: 100_000,
    codec: { keyring: stack.keyring, corsOrigins: [] },
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** The environment without the settings the stack gives its processes itself. */
function withoutStackSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { DATABASE_URL: _db, PAYLOAD_KEYS: _keys, PAYLOAD_KEY_FILE: _file, API_KEYS: _api, ...rest } = env;
  return rest;
}
