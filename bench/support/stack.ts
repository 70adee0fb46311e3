import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type Server } from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../../api/app';
import { type Role } from '../../platform/config';
import { createDb, type Db, migrate } from '../../platform/db';
import { createLogger } from '../../platform/logger';
import { newKeySpec, parseKeyring } from '../../platform/payload-codec';
import { caseDataConverter } from '../../platform/temporal';
import { searchAttributeCliArgs } from '../../workflows/search-attributes';
import { devServerDynamicConfigArgs, devServerGoEnv, workerCommand } from '../../dev/dev-server';
import { type LocalPostgres, startLocalPostgres } from '../../dev/local-postgres';
import { freePort } from '../../dev/ports';
import { freeClusterPorts, writeServerConfig } from '../../dev/temporal-cluster/config';
import { prepareNamespace } from '../../dev/temporal-cluster/namespace';
import { setupTemporalSchemas } from '../../dev/temporal-cluster/schema';
import { spawnTemporalServer, waitForFrontend } from '../../dev/temporal-cluster/server';
import { type ClusterTools, clusterToolsFromEnv } from '../../dev/temporal-cluster/tools';
import { type CpuSeconds, postgresCpuSeconds, processCpuSeconds } from './measure';

/**
 * What the benchmarks run against, all started here on free ports and stopped at the end: Postgres, and
 * unless told otherwise the Temporal dev server and a production worker (dist/worker/main.js), with the
 * API in this process. Benchmarks are run on demand (npm run bench:*), never by npm test.
 */
export interface BenchStack {
  db: Db;
  /** The read model's Postgres, for psql while a benchmark holds its stack (bench:reports --hold). */
  pgUrl: string;
  client: Client;
  address: string;
  taskQueue: string;
  api: string;
  keys: Record<Role, string>;
  /** The first worker (of `workers`). */
  worker?: ChildProcess;
  workers: ChildProcess[];
  /** The Temporal server's process id (dev server or cluster), when the stack runs one. */
  temporalPid?: number;
  apiPid?: number;
  /** CPU seconds used so far by each part of the stack (Linux /proc); `worker` is all workers together. */
  cpuSeconds(): CpuSeconds;
  /** CPU seconds used so far by each worker. */
  workerCpuSeconds(): number[];
  stop(): Promise<void>;
}

const children: ChildProcess[] = [];
let postgres: LocalPostgres | undefined;

/** Ends the benchmark's processes if it fails half-way. */
export async function abort(err: unknown): Promise<never> {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  for (const child of children) child.kill('SIGKILL');
  await postgres?.stop();
  process.exit(1);
}

/**
 * Where the cluster's tools are: from the environment, else dev/tools.sh cluster (which builds them the
 * first time, as npm run dev -- --cluster does).
 */
function clusterTools(root: string): ClusterTools {
  const fromEnv = clusterToolsFromEnv();
  if (fromEnv) return fromEnv;
  const out = execFileSync('bash', [path.join(root, 'dev', 'tools.sh'), 'cluster'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const tools = clusterToolsFromEnv(Object.fromEntries([...out.matchAll(/^(TEMPORAL_\w+)=(.*)$/gm)].map((m) => [m[1], m[2]])));
  if (!tools) throw new Error(`dev/tools.sh cluster did not report the cluster's tool paths:\n${out}`);
  return tools;
}

// A benchmark stopped by Ctrl-C or kill ends its servers too (they would otherwise outlive it).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void abort(new Error(`stopped by ${signal}`)));

export async function startBenchStack(options: {
  temporal: boolean;
  /**
   * 'dev' (default): the Temporal CLI's dev server (SQLite). 'cluster': the Temporal server built from Go modules
   * (dev/temporal-cluster/) on this stack's Postgres with SQL visibility, as npm run dev -- --cluster runs it.
   */
  topology?: 'dev' | 'cluster';
  /** Worker processes (default 1). */
  workers?: number;
  fanoutSignalsPerSecond?: number;
  /** The fan-out's bound on cases signalled and not yet applied (FANOUT_MAX_IN_FLIGHT); the worker's default otherwise. */
  fanoutMaxInFlight?: number;
  workerNodeArgs?: string[];
  /** Run the API as its own production process (dist/api/main.js), as deployed, instead of in this one. */
  apiProcess?: boolean;
  apiNodeArgs?: string[];
  /**
   * A folder that keeps the stack's data after it stops (dev server only): Postgres, the dev server's SQLite
   * file and the payload keys, so a later stack on the same folder finds the cases again. A new folder of
   * its own, removed at stop, otherwise.
   */
  dataDir?: string;
}): Promise<BenchStack> {
  const root = path.resolve(__dirname, '..', '..', '..');
  if (options.dataDir && options.topology === 'cluster') throw new Error('a kept data folder is for the dev server only');
  const dir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'sfe-bench-'));
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  postgres = await startLocalPostgres({ dataDir: path.join(dir, 'pg'), port: await freePort(), database: 'bench' });
  const pgUrl = postgres.url;
  const db = createDb(pgUrl, { max: 20 });
  await migrate(db);
  const taskQueue = 'bench';
  // Encrypted as in production: the benchmark measures the codec's cost too.
  const keyFile = path.join(dir, 'payload-keys');
  if (options.dataDir && !existsSync(keyFile)) writeFileSync(keyFile, newKeySpec('bench'), { mode: 0o600 });
  const payloadKeys = options.dataDir ? readFileSync(keyFile, 'utf8').trim() : newKeySpec('bench');
  let address = '127.0.0.1:1';
  let connection: Connection;
  const workers: ChildProcess[] = [];
  let temporalServer: ChildProcess | undefined;
  let apiProcess: ChildProcess | undefined;
  if (options.temporal) {
    if (options.topology === 'cluster') {
      const tools = clusterTools(root);
      const endpoint = { host: '127.0.0.1', port: postgres.port, user: 'postgres', password: 'postgres' };
      await setupTemporalSchemas(tools, endpoint);
      const ports = await freeClusterPorts();
      const { args } = writeServerConfig(path.join(dir, 'temporal'), { ports, postgres: endpoint, logLevel: 'error' });
      address = `127.0.0.1:${ports.frontend}`;
      children.push((temporalServer = spawnTemporalServer(tools, args)));
      let log = '';
      const keep = (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000));
      temporalServer.stdout?.on('data', keep);
      temporalServer.stderr?.on('data', keep);
      await waitForFrontend(address, temporalServer, 60_000, () => log);
      connection = await Connection.connect({ address });
      await prepareNamespace(connection, 'default');
    } else {
      const cli = process.env.TEMPORAL_CLI_PATH;
      if (!cli) throw new Error('TEMPORAL_CLI_PATH is not set: run the benchmark through npm run bench:*');
      address = `127.0.0.1:${await freePort()}`;
      children.push(temporalServer = spawn(cli, ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', address.split(':')[1]!, '--log-level', 'error', ...(options.dataDir ? ['--db-filename', path.join(dir, 'temporal.sqlite')] : []), ...searchAttributeCliArgs(), ...devServerDynamicConfigArgs()], { stdio: 'ignore', env: { ...process.env, ...devServerGoEnv() } }));
      let connected: Connection | undefined;
      for (let i = 0; i < 120 && !connected; i++) connected = await Connection.connect({ address, connectTimeout: 1_000 }).catch(async () => (await sleep(500), undefined));
      if (!connected) throw new Error('the Temporal dev server did not start');
      connection = connected;
    }
    const niced = workerCommand(process.execPath, [...(options.workerNodeArgs ?? []), path.join(root, 'dist', 'worker', 'main.js')]);
    for (let w = 0; w < (options.workers ?? 1); w++) {
      const worker = spawn(niced.command, niced.args, {
        env: { ...process.env, TEMPORAL_ADDRESS: address, TEMPORAL_TASK_QUEUE: taskQueue, DATABASE_URL: pgUrl, LOG_LEVEL: 'warn', PAYLOAD_KEYS: payloadKeys,
          // The worker's activities signal the fan-out's pages, so the window is the worker's setting.
          ...(options.fanoutMaxInFlight ? { FANOUT_MAX_IN_FLIGHT: String(options.fanoutMaxInFlight) } : {}),
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      workers.push(worker);
      children.push(worker);
    }
  } else {
    // Reports read Postgres only; the client is never used.
    connection = Connection.lazy({ address });
  }
  const client = new Client({ connection, dataConverter: caseDataConverter(parseKeyring(payloadKeys)) });
  const keys = { 'case-system': randomBytes(24).toString('base64url'), ops: randomBytes(24).toString('base64url'), reader: randomBytes(24).toString('base64url') };
  const app = createApp({
    client,
    db,
    temporal: { address, namespace: 'default', taskQueue, uiUrl: 'http://localhost:8233' },
    logger: createLogger('error'),
    apiKeys: Object.entries(keys).map(([role, key]) => ({ role: role as Role, key })),
    writeRatePerSecond: 100_000,
    readRatePerSecond: 100_000,
    fanoutSignalsPerSecond: options.fanoutSignalsPerSecond,
    // The Temporal CLI encrypts through it (bench:fanout's bare batch), as an operator's would.
    codec: { keyring: parseKeyring(payloadKeys), corsOrigins: [] },
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  let api = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  if (options.apiProcess) {
    const port = await freePort();
    children.push(
      (apiProcess = spawn(process.execPath, [...(options.apiNodeArgs ?? []), path.join(root, 'dist', 'api', 'main.js')], {
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: address,
          TEMPORAL_TASK_QUEUE: taskQueue,
          DATABASE_URL: pgUrl,
          PORT: String(port),
          LOG_LEVEL: 'error',
          API_KEYS: Object.entries(keys).map(([role, key]) => `${role}:${key}`).join(','),
          API_WRITE_RATE_PER_SECOND: '100000',
          // The API starts the fan-outs, so their bound is the API process's.
          ...(options.fanoutSignalsPerSecond ? { FANOUT_SIGNALS_PER_SECOND: String(options.fanoutSignalsPerSecond) } : {}),
          PAYLOAD_KEYS: payloadKeys,
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      })),
    );
    api = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 120; i++) {
      if ((await fetch(`${api}/readyz`).catch(() => undefined))?.status === 200) break;
      await sleep(250);
    }
  }
  return {
    db,
    pgUrl,
    client,
    address,
    taskQueue,
    api,
    keys,
    worker: workers[0],
    workers,
    temporalPid: temporalServer?.pid,
    apiPid: apiProcess?.pid,
    workerCpuSeconds: () => workers.map((w) => processCpuSeconds(w.pid)),
    cpuSeconds: () => ({
      temporal: processCpuSeconds(temporalServer?.pid),
      worker: workers.reduce((sum, w) => sum + processCpuSeconds(w.pid), 0),
      postgres: postgresCpuSeconds(postgres?.dataDir),
      bench: processCpuSeconds(process.pid),
      api: processCpuSeconds(apiProcess?.pid),
    }),
    async stop() {
      server.close();
      await connection.close().catch(() => undefined);
      // Stop the worker and the API before Postgres, so their last writes do not meet a closing database.
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
              child.once('exit', () => {
                clearTimeout(force);
                resolve();
              });
              child.kill('SIGTERM');
            }),
        ),
      );
      await db.close();
      await postgres?.stop();
      if (!options.dataDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
