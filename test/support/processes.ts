import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect as connectTls } from 'node:tls';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { createDb, type Db } from '../../platform/db';
import { devServerDynamicConfigArgs, devServerGoEnv } from '../../dev/dev-server';
import { type LocalPostgres, startLocalPostgres } from '../../dev/local-postgres';
import { within } from '../../platform/within';
import { type Role } from '../../platform/config';
import { searchAttributeCliArgs } from '../../workflows/search-attributes';
import { clusterToolPaths, freePort, testKeyring, toolPaths } from './servers';
import { caseDataConverter } from '../../platform/temporal';
import { eventually } from './system';
import { type ClusterPorts, freeClusterPorts, writeServerConfig } from '../../dev/temporal-cluster/config';
import { prepareNamespace } from '../../dev/temporal-cluster/namespace';
import { setupTemporalSchemas } from '../../dev/temporal-cluster/schema';
import { clusterConnectionOptions, spawnTemporalServer, waitForFrontend } from '../../dev/temporal-cluster/server';
import { ensureTemporalCertificates, TEMPORAL_TLS_SERVER_NAME, temporalTlsEnv, type TemporalTlsFiles } from '../../platform/tls-certificates';

/**
 * The system as production runs it, every part a real process the test can kill and start again: Temporal,
 * Postgres, the worker (dist/worker/main.js) and the API (dist/api/main.js), each configured by environment
 * variables only. For the fault-injection suite and the cluster suite.
 *
 * Two topologies: 'dev' is the Temporal dev server on a SQLite file, one worker and one API (what `npm run dev`
 * runs); 'cluster' is the Temporal server on Postgres with SQL visibility (its own Postgres, as production keeps
 * Temporal's database apart from the read model's), its frontend behind mutual TLS with certificates made into the
 * test's folder (platform/tls-certificates.ts), its namespace and search attributes created through the API,
 * two workers and two API instances (what `npm run dev -- --cluster` and production run).
 */
const root = path.resolve(__dirname, '..', '..');

export type Topology = 'dev' | 'cluster';

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
  /** How many worker and API processes this topology runs. */
  workers: number;
  apis: number;
  /** Calls an API instance (`instance`, or each running one in turn) with the key of `role`. */
  api(method: string, path: string, body?: unknown, role?: Role, instance?: number): Promise<{ status: number; body: any }>;
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

const exited = (child: ChildProcess | undefined) =>
  new Promise<void>((resolve) => (!child || child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
const running = (child: ChildProcess | undefined): child is ChildProcess => Boolean(child && child.exitCode === null && child.signalCode === null);

export async function startProcessSystem(options: { taskQueue: string; signalsPerSecond: number; topology?: Topology }): Promise<ProcessSystem> {
  const topology = options.topology ?? 'dev';
  const count = topology === 'cluster' ? 2 : 1;
  const dir = mkdtempSync(path.join(os.tmpdir(), topology === 'cluster' ? 'sfe-cluster-' : 'sfe-faults-'));
  chmodSync(dir, 0o755); // Postgres runs as its own user (we are root) and must enter the folder
  const [temporalPort, pgPort] = [await freePort(), await freePort()];
  const apiPorts: number[] = [];
  for (let i = 0; i < count; i++) apiPorts.push(await freePort());
  const temporalAddress = `127.0.0.1:${temporalPort}`;
  const keys: Record<Role, string> = { 'case-system': 'fault-key-case-system-001', ops: 'fault-key-ops-0000000001', reader: 'fault-key-reader-00000001' };
  let pg: LocalPostgres | undefined = await startLocalPostgres({ dataDir: path.join(dir, 'pg'), port: pgPort, database: 'sygedagpenge_faults' });
  const pgUrl = pg.url;
  const db = createDb(pgUrl);
  // The cluster's Temporal keeps its history and visibility in a Postgres of its own.
  const cluster = topology === 'cluster' ? await prepareCluster(dir, temporalPort) : undefined;
  let temporal: ChildProcess | undefined;
  const workers: (ChildProcess | undefined)[] = Array(count).fill(undefined);
  const apiProcesses: (ChildProcess | undefined)[] = Array(count).fill(undefined);
  let nextApi = 0;
  // The worker's own configuration decides its stack traces (off by default), not the test run's variable.
  const { WORKER_WORKFLOW_STACK_TRACES: _stackTraces, ...inherited } = process.env;
  const env = {
    ...inherited,
    ...(cluster ? temporalTlsEnv(cluster.tls) : {}),
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_TASK_QUEUE: options.taskQueue,
    DATABASE_URL: pgUrl,
    LOG_LEVEL: 'error',
    PAYLOAD_KEYS: testKeyring().spec,
  };
  const indexes = (index: number | undefined) => (index === undefined ? [...workers.keys()] : [index]);
  /** The instance to call: the one asked for, else each running one in turn. */
  const apiPort = (instance?: number) => {
    if (instance !== undefined) return apiPorts[instance]!;
    const up = apiPorts.filter((_, i) => running(apiProcesses[i]));
    return up.length === 0 ? apiPorts[0]! : up[nextApi++ % up.length]!;
  };

  const system: ProcessSystem = {
    topology,
    client: undefined as unknown as Client,
    temporalConnection: clusterConnectionOptions(temporalAddress, cluster?.tls),
    cluster: cluster && { tls: cluster.tls, ports: cluster.ports },
    db,
    keys,
    taskQueue: options.taskQueue,
    workers: count,
    apis: count,
    async api(method, p, body, role, instance) {
      const as = role ?? (p.startsWith('/api/v1/policy-changes') || p.startsWith('/api/v1/ops') ? 'ops' : 'case-system');
      const res = await fetch(`http://127.0.0.1:${apiPort(instance)}${p}`, {
        method,
        headers: { authorization: `Bearer ${keys[as]}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    },
    async ops(...args) {
      const port = apiPorts.find((_, i) => running(apiProcesses[i])) ?? apiPorts[0]!;
      try {
        const { stdout } = await promisify(execFile)(process.execPath, [path.join(root, 'dist', 'cli', 'ops.js'), ...args, '--api', `http://127.0.0.1:${port}`, '--key', keys.ops]);
        return { code: 0, stdout };
      } catch (err) {
        const e = err as { code?: number; stdout?: string };
        return { code: e.code ?? 1, stdout: e.stdout ?? '' };
      }
    },
    async startTemporal() {
      if (cluster) {
        temporal = spawnTemporalServer({ server: cluster.server }, cluster.args);
        let log = '';
        for (const stream of [temporal.stdout, temporal.stderr]) stream?.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-4000)));
        await waitForFrontend(temporalAddress, temporal, 120_000, () => log, cluster.tls);
      } else {
        temporal = spawn(
          toolPaths().cli,
          ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(temporalPort), '--db-filename', path.join(dir, 'temporal.sqlite'), '--log-level', 'error', ...searchAttributeCliArgs(), ...devServerDynamicConfigArgs()],
          { stdio: 'ignore', env: { ...process.env, ...devServerGoEnv() } },
        );
      }
      const connection = await eventually(
        () => Connection.connect({ ...system.temporalConnection, connectTimeout: 1_000 }).catch(() => null),
        (c) => c !== null,
        'Temporal answers',
      );
      await eventually(
        () => connection!.workflowService.getSystemInfo({}).then(() => true, () => false),
        (ok) => ok,
        'Temporal ready',
      );
      // As production: the namespace and the search attributes through the API (idempotent on a restart).
      if (cluster) await prepareNamespace(connection!, 'default');
      if (!system.client) system.client = new Client({ connection: connection!, namespace: 'default', dataConverter: caseDataConverter(testKeyring().keyring) });
      else await connection!.close();
    },
    async killTemporal() {
      temporal?.kill('SIGKILL');
      await exited(temporal);
    },
    startWorker(index, extraEnv = {}) {
      for (const i of indexes(index)) {
        if (running(workers[i])) continue;
        workers[i] = spawn(process.execPath, [path.join(root, 'dist', 'worker', 'main.js')], { env: { ...env, ...extraEnv }, stdio: ['ignore', 'ignore', 'inherit'] });
      }
    },
    async killWorker(signal = 'SIGKILL', index) {
      for (const i of indexes(index)) workers[i]?.kill(signal);
      await Promise.all(indexes(index).map((i) => exited(workers[i])));
    },
    async startApi(index) {
      const started = indexes(index).filter((i) => !running(apiProcesses[i]));
      for (const i of started) {
        apiProcesses[i] = spawn(process.execPath, [path.join(root, 'dist', 'api', 'main.js')], {
          env: {
            ...env,
            PORT: String(apiPorts[i]),
            // Every instance links to one public address (a load balancer's in production), not to its own port.
            API_PUBLIC_URL: `http://localhost:${apiPorts[0]}`,
            API_KEYS: Object.entries(keys).map(([role, key]) => `${role}:${key}`).join(','),
            API_WRITE_RATE_PER_SECOND: '10000',
            FANOUT_SIGNALS_PER_SECOND: String(options.signalsPerSecond),
            FANOUT_VISIBILITY_LAG_MS: '1000',
          },
          stdio: ['ignore', 'ignore', 'inherit'],
        });
      }
      await Promise.all(
        started.map((i) =>
          eventually(
            () => fetch(`http://127.0.0.1:${apiPorts[i]}/readyz`).then((r) => r.status, () => 0),
            (status) => status === 200,
            `API ${i + 1} ready`,
          ),
        ),
      );
    },
    async killApi(index) {
      for (const i of indexes(index)) apiProcesses[i]?.kill('SIGKILL');
      await Promise.all(indexes(index).map((i) => exited(apiProcesses[i])));
    },
    async stopPostgres() {
      await pg?.stop();
      pg = undefined;
    },
    async startPostgres() {
      pg = await startLocalPostgres({ dataDir: path.join(dir, 'pg'), port: pgPort, database: 'sygedagpenge_faults' });
    },
    async backupPostgres() {
      const data = pg!.dataDir;
      await system.stopPostgres();
      cpSync(data, path.join(dir, 'pg-backup'), { recursive: true, preserveTimestamps: true });
      chownLike(data, path.join(dir, 'pg-backup'));
      await system.startPostgres();
    },
    async restorePostgres() {
      const data = pg!.dataDir;
      await system.stopPostgres();
      rmSync(data, { recursive: true, force: true });
      cpSync(path.join(dir, 'pg-backup'), data, { recursive: true, preserveTimestamps: true });
      chownLike(path.join(dir, 'pg-backup'), data);
      chmodSync(data, 0o700);
      await system.startPostgres();
    },
    async stop() {
      for (const child of [...apiProcesses, ...workers]) child?.kill('SIGTERM');
      await Promise.all([...apiProcesses, ...workers].map(exited));
      await system.client?.connection.close().catch(() => undefined);
      temporal?.kill('SIGTERM');
      await exited(temporal);
      await db.close();
      await pg?.stop();
      await cluster?.postgres.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await system.startTemporal();
  system.startWorker();
  await system.startApi();
  return system;
}

/**
 * The cluster's Temporal before its first start: its own Postgres with the two databases and their schemas
 * (the sql tool), the certificates of its frontend's mutual TLS, and the server's config written into `dir`
 * (dev/temporal-cluster/).
 */
async function prepareCluster(dir: string, frontendPort: number): Promise<{ server: string; args: string[]; postgres: LocalPostgres; tls: TemporalTlsFiles; ports: ClusterPorts }> {
  const tools = clusterToolPaths();
  const postgres = await startLocalPostgres({ dataDir: path.join(dir, 'temporal-pg'), port: await freePort(), database: 'postgres' });
  const endpoint = { host: '127.0.0.1', port: postgres.port, user: 'postgres', password: 'postgres' };
  await setupTemporalSchemas(tools, endpoint);
  const { files: tls } = await ensureTemporalCertificates(path.join(dir, 'temporal-tls'));
  const ports = await freeClusterPorts(frontendPort);
  const { args } = writeServerConfig(path.join(dir, 'temporal'), { ports, postgres: endpoint, logLevel: 'error', tls });
  return { server: tools.server, args, postgres, tls, ports };
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
