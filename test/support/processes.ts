import { execFile } from 'node:child_process';
import { chmodSync, chownSync, cpSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { connect as connectTls } from 'node:tls';
import { promisify } from 'node:util';
import { type Client } from '@temporalio/client';
import { createDb, type Db } from '../../platform/db';
import { within } from '../../platform/within';
import { type Role } from '../../platform/config';
import { startStack, type Topology } from '../../dev/stack';
import { type ClusterPorts } from '../../dev/temporal-cluster/config';
import { type clusterConnectionOptions } from '../../dev/temporal-cluster/server';
import { TEMPORAL_TLS_SERVER_NAME, type TemporalTlsFiles } from '../../platform/tls-certificates';
import { type ApiCall, apiCaller } from './api';
import { testKeyring } from './servers';

/**
 * The system as production runs it, every part a real process the test can kill and start again: Temporal,
 * Postgres, the worker (dist/worker/main.js) and the API (dist/api/main.js), each configured by environment
 * variables only, started by the one stack harness (dev/stack.ts) as npm run dev starts it. For the
 * fault-injection suite, the cluster suites and the browser suite.
 *
 * Two topologies: 'dev' is the Temporal dev server on a SQLite file, one worker and one API (what `npm run dev`
 * runs); 'cluster' is the Temporal server on Postgres with SQL visibility (its own Postgres, as production keeps
 * Temporal's database apart from the read model's), its frontend behind mutual TLS with certificates made into the
 * test's folder, its namespace and search attributes created through the API, two workers and two API instances
 * (what `npm run dev -- --cluster` and production run). `ui` adds Temporal's Web UI.
 */
const root = path.resolve(__dirname, '..', '..');

export type { Topology } from '../../dev/stack';

export interface ProcessSystem {
  topology: Topology;
  client: Client;
  /** How a client reaches this system's Temporal: its address, and on the cluster the engine's certificates (mutual TLS). */
  temporalConnection: ReturnType<typeof clusterConnectionOptions>;
  /** The cluster's certificate files and the frontend's ports (undefined on the dev server). */
  cluster?: { tls: TemporalTlsFiles; ports: ClusterPorts };
  db: Db;
  keys: Record<Role, string>;
  taskQueue: string;
  /** The first API instance (the public address its pages link to), and the Web UI with `ui`. */
  base: string;
  ui?: string;
  /** How many worker and API processes this topology runs. */
  workers: number;
  apis: number;
  /** Calls an API instance (each running one in turn) with the key of `role` (defaultRole's by default). */
  api: ApiCall;
  /** Runs the ops CLI against the (first running) API: its exit code and output. */
  ops(...args: string[]): Promise<{ code: number; stdout: string }>;
  startTemporal(): Promise<void>;
  killTemporal(): Promise<void>;
  /** Starts worker `index`, or every worker not running, with `extraEnv` besides the system's settings. */
  startWorker(index?: number, extraEnv?: Record<string, string>): void;
  /** Kills worker `index`, or every worker. */
  killWorker(signal?: NodeJS.Signals, index?: number): Promise<void>;
  /** Starts API instance `index`, or every instance not running, and waits until it answers ready. */
  startApi(index?: number): Promise<void>;
  /** Kills API instance `index`, or every instance. */
  killApi(index?: number): Promise<void>;
  stopPostgres(): Promise<void>;
  startPostgres(): Promise<void>;
  /** A file-level backup of the stopped Postgres cluster, and restoring it (Postgres stopped and started around it). */
  backupPostgres(): Promise<void>;
  restorePostgres(): Promise<void>;
  stop(): Promise<void>;
}

export async function startProcessSystem(options: { taskQueue: string; signalsPerSecond: number; topology?: Topology; ui?: boolean }): Promise<ProcessSystem> {
  const topology = options.topology ?? 'dev';
  const keys: Record<Role, string> = { 'case-system': 'fault-key-case-system-001', ops: 'fault-key-ops-0000000001', reader: 'fault-key-reader-00000001' };
  // The worker's own configuration decides its stack traces (off by default), not the test run's variable.
  const { WORKER_WORKFLOW_STACK_TRACES: _stackTraces, ...inherited } = process.env;
  const stack = await startStack({
    topology,
    temporalPostgres: 'own',
    database: 'sygedagpenge_faults',
    taskQueue: options.taskQueue,
    ui: options.ui,
    keys,
    payloadKeys: testKeyring().spec,
    logLevel: 'error',
    // The test's processes share the machine with the test runner; none runs below the others' priority.
    env: { ...inherited, SFE_WORKER_NICENESS: '0' },
    apiEnv: {
      API_WRITE_RATE_PER_SECOND: '10000',
      FANOUT_SIGNALS_PER_SECOND: String(options.signalsPerSecond),
      FANOUT_VISIBILITY_LAG_MS: '1000',
    },
  });
  const db = createDb(stack.databaseUrl);
  let nextApi = 0;
  /** Each running instance in turn. */
  const apiUp = (i: number) => stack.pids().apis[i] !== undefined;
  const apiBase = (instance?: number) => {
    if (instance !== undefined) return stack.apiUrls[instance]!;
    const up = stack.apiUrls.filter((_, i) => apiUp(i));
    return up.length === 0 ? stack.apiUrls[0]! : up[nextApi++ % up.length]!;
  };
  const backup = path.join(stack.dataDir, 'postgres-backup');

  const system: ProcessSystem = {
    topology,
    client: stack.client,
    temporalConnection: stack.temporalConnection,
    cluster: stack.tls && stack.clusterPorts && { tls: stack.tls, ports: stack.clusterPorts },
    db,
    keys,
    taskQueue: options.taskQueue,
    base: stack.apiUrls[0]!,
    ui: stack.uiUrl,
    workers: stack.workerMetricsPorts.length,
    apis: stack.apiUrls.length,
    api: apiCaller(apiBase, keys),
    async ops(...args) {
      const url = stack.apiUrls.find((_, i) => apiUp(i)) ?? stack.apiUrls[0]!;
      try {
        const { stdout } = await promisify(execFile)(process.execPath, [path.join(root, 'dist', 'cli', 'ops.js'), ...args, '--api', url, '--key', keys.ops]);
        return { code: 0, stdout };
      } catch (err) {
        const e = err as { code?: number; stdout?: string };
        return { code: e.code ?? 1, stdout: e.stdout ?? '' };
      }
    },
    startTemporal: () => stack.startTemporal(),
    killTemporal: () => stack.killTemporal('SIGKILL'),
    startWorker: (index, extraEnv) => stack.startWorker(index, extraEnv),
    killWorker: (signal = 'SIGKILL', index) => stack.killWorker(signal, index),
    startApi: (index) => stack.startApi(index),
    killApi: (index) => stack.killApi('SIGKILL', index),
    stopPostgres: () => stack.stopPostgres(),
    startPostgres: () => stack.startPostgres(),
    async backupPostgres() {
      const data = stack.pids().postgresDataDir!;
      await stack.stopPostgres();
      cpSync(data, backup, { recursive: true, preserveTimestamps: true });
      chownLike(data, backup);
      await stack.startPostgres();
    },
    async restorePostgres() {
      const data = stack.pids().postgresDataDir!;
      await stack.stopPostgres();
      rmSync(data, { recursive: true, force: true });
      cpSync(backup, data, { recursive: true, preserveTimestamps: true });
      chownLike(backup, data);
      chmodSync(data, 0o700);
      await stack.startPostgres();
    },
    async stop() {
      await db.close();
      await stack.stop();
    },
  };
  return system;
}

/**
 * A TLS handshake with a cluster's port on 127.0.0.1, trusting its CA, with the given client certificate or none:
 * 'accepted', or 'refused: <the alert>'. TLS 1.3 completes the client's side before the server has checked the
 * client's certificate, so a refusal can come just after; half a second without one is acceptance.
 */
export function tlsHandshake(port: number, tls: TemporalTlsFiles, cert?: { cert: Buffer; key: Buffer }): Promise<string> {
  // Under TLS 1.3 a server refuses a client certificate after the client's handshake is done, so the answer is
  // what comes first afterwards: the server's own first bytes (an HTTP/2 server speaks first: its SETTINGS),
  // or the alert. No timer decides it, so a slow server on a loaded machine cannot pass for one that accepted.
  return within(
    60_000,
    new Promise<string>((resolve) => {
      const socket = connectTls({ host: '127.0.0.1', port, ca: readFileSync(tls.ca), servername: TEMPORAL_TLS_SERVER_NAME, ALPNProtocols: ['h2', 'http/1.1'], ...cert });
      socket.once('data', () => (socket.end(), resolve('accepted')));
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(`refused: ${err.code ?? err.message}`));
    }),
    'no answer to a TLS handshake',
  );
}

/** Gives every file under `to` the owner of `from` (the postgres user owns a cluster's files). */
function chownLike(from: string, to: string): void {
  const { uid, gid } = statSync(from);
  const walk = (p: string) => {
    chownSync(p, uid, gid);
    if (statSync(p).isDirectory()) for (const e of readdirSync(p)) walk(path.join(p, e));
  };
  walk(to);
}
