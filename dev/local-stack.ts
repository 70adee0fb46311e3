import { existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { createDb, migrate } from '../platform/db';
import { type TemporalTlsFiles, temporalTlsEnv } from '../platform/tls-certificates';
import { searchAttributeCliArgs } from '../workflows/search-attributes';
import { devServerDynamicConfigArgs, devServerGoEnv, workerCommand } from './dev-server';
import { type LocalPostgres, startLocalPostgres } from './local-postgres';
import { createChildren } from './local-stack/children';
import { startCluster } from './local-stack/cluster';
import { developmentKeys, developmentPayloadKeys, keysFile } from './local-stack/keys';
import { done, printReady, say } from './local-stack/output';
import { clusterPortsFrom } from './temporal-cluster/config';
import { clusterConnectionOptions } from './temporal-cluster/server';
import { clusterToolsFromEnv } from './temporal-cluster/tools';

/**
 * The whole system on one machine, without Docker: the Temporal dev server (with its Web UI and the
 * case search attributes), Postgres, migrations, the worker and the API. State lives in the data folder
 * (Temporal's SQLite file and Postgres's cluster), so cases survive a restart. Ctrl-C or SIGTERM stops
 * every child process. Started by `npm run dev` (dev/dev.sh), which builds the tools first.
 *
 * `--cluster` runs the production topology instead (dev/temporal-cluster/): the Temporal server with
 * its persistence and SQL visibility in the same Postgres (databases temporal and temporal_visibility), the
 * namespace and search attributes created through the API, the standalone Web UI, two workers and two API
 * instances (PORT and PORT+1). Its read model is the database sygedagpenge_cluster, so that the two
 * topologies' cases never mix. A worker or API instance that exits is reported and the others carry on.
 *
 * Its parts are in dev/local-stack/: the child processes, the cluster's Temporal, the development keys, and
 * what it prints.
 */
const root = path.resolve(__dirname, '..', '..');
const env = process.env;
const dataDir = path.resolve(env.SFE_DATA_DIR ?? path.join(root, '.data'));
const temporalPort = Number(env.TEMPORAL_PORT ?? 7233);
const uiPort = Number(env.TEMPORAL_UI_PORT ?? 8233);
const apiPort = Number(env.PORT ?? 3000);
const pgPort = Number(env.LOCAL_PG_PORT ?? 55432);
const cli = env.TEMPORAL_CLI_PATH;
const namespace = env.TEMPORAL_NAMESPACE ?? 'default';
const startedAt = Date.now();
// Set by dev/dev.sh: when `npm run dev` started, and which SDK bridge the worker loads (dev/tools/rust.sh).
const devStartedAt = Number(env.SFE_DEV_STARTED_MS) || undefined;
const bridge = { state: env.SFE_CORE_BRIDGE_STATE, note: env.SFE_CORE_BRIDGE_NOTE, cache: env.SFE_CORE_BRIDGE_CACHE };

/** `npm run dev` (the dev server) or `npm run dev -- --cluster` (the production topology). */
function topologyFromArgs(args: string[]): 'dev' | 'cluster' {
  const unknown = args.filter((a) => a !== '--cluster');
  if (unknown.length > 0) {
    process.stderr.write(`[local] unknown argument ${unknown.map((a) => `'${a}'`).join(', ')}: npm run dev takes only --cluster (the Temporal cluster on Postgres, two workers, two APIs)\n`);
    process.exit(2);
  }
  return args.includes('--cluster') ? 'cluster' : 'dev';
}
const topology = topologyFromArgs(process.argv.slice(2));

let postgres: LocalPostgres | undefined;
let shuttingDown = false;
const children = createChildren({ cwd: root, env, onFatalExit: () => void shutdown(1) });

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function waitForTemporal(address: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      await connection.workflowService.getSystemInfo({});
      await connection.close();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`Temporal did not answer on ${address} within 60 s: ${String(err)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

async function shutdown(code: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  say('stopping');
  if (bridge.state === 'building' && bridge.cache && !existsSync(path.join(bridge.cache, 'index.node'))) {
    say('the background build of the SDK bridge with patches/ stops too; the next start resumes it');
  }
  await children.stopAll();
  await postgres?.stop();
  say('stopped');
  process.exit(code);
}

async function main(): Promise<void> {
  const clusterTools = topology === 'cluster' ? clusterToolsFromEnv(env) : undefined;
  if (topology === 'dev' && !cli) throw new Error('TEMPORAL_CLI_PATH is not set: start the stack with `npm run dev`, which builds the Temporal CLI');
  if (topology === 'cluster' && !clusterTools) {
    throw new Error('TEMPORAL_SERVER_PATH, TEMPORAL_SQL_TOOL_PATH, TEMPORAL_SCHEMA_DIR and TEMPORAL_UI_SERVER_PATH are not set: start the cluster with `npm run dev -- --cluster`, which builds them');
  }
  // Checked before anything starts: the worker runs below the dev server's CPU priority (dev/dev-server.ts).
  const worker = workerCommand(process.execPath, [path.join(root, 'dist', 'worker', 'main.js')], env);
  process.once('SIGINT', () => void shutdown(0));
  process.once('SIGTERM', () => void shutdown(0));
  const apiPorts = topology === 'cluster' ? [apiPort, apiPort + 1] : [apiPort];
  const wanted: [number, string][] = [
    [temporalPort, 'Temporal (TEMPORAL_PORT)'],
    [uiPort, 'Temporal UI (TEMPORAL_UI_PORT)'],
    ...apiPorts.map((port, i): [number, string] => [port, i === 0 ? 'the API (PORT)' : `API instance ${i + 1} (PORT+${i})`]),
  ];
  if (topology === 'cluster') {
    for (const [what, port] of Object.entries(clusterPortsFrom(temporalPort))) if (port !== temporalPort) wanted.push([port, `the Temporal server's ${what} port (TEMPORAL_PORT+${port - temporalPort})`]);
  }
  for (const [port, what] of wanted) {
    if (!(await portFree(port))) throw new Error(`port ${port} for ${what} is in use; stop what holds it or choose another port`);
  }
  mkdirSync(dataDir, { recursive: true });

  let databaseUrl = env.DATABASE_URL;
  if (!databaseUrl) {
    if (!(await portFree(pgPort))) throw new Error(`port ${pgPort} for Postgres (LOCAL_PG_PORT) is in use`);
    const fresh = !existsSync(path.join(dataDir, 'postgres', 'PG_VERSION'));
    say(`starting Postgres (data in ${path.join(dataDir, 'postgres')}${fresh ? '; a new cluster: initdb first' : ''})`);
    const pgStarted = Date.now();
    // The cluster topology keeps its own read model: its cases live in its own Temporal, not the dev server's.
    postgres = await startLocalPostgres({ dataDir: path.join(dataDir, 'postgres'), port: pgPort, database: topology === 'cluster' ? 'sygedagpenge_cluster' : 'sygedagpenge' });
    // As root in a folder the postgres user cannot enter, the cluster lives outside it (dev/local-postgres.ts).
    if (postgres.dataDir !== path.join(dataDir, 'postgres')) say(`Postgres cluster in ${postgres.dataDir} (linked from ${path.join(dataDir, 'postgres')})`);
    databaseUrl = postgres.url;
    done(fresh ? 'Postgres initialised and up' : 'Postgres up', pgStarted);
  }
  const migrationsStarted = Date.now();
  const db = createDb(databaseUrl, { max: 1 });
  const applied = await migrate(db);
  await db.close();
  done(applied.length > 0 ? `migrations applied: ${applied.map((m) => `${m.version}_${m.name}`).join(', ')}` : 'database schema is current', migrationsStarted);

  const payloadKeys = developmentPayloadKeys(dataDir, env);
  const address = `127.0.0.1:${temporalPort}`;
  const uiOrigin = `http://localhost:${uiPort}`;
  const codecEndpoint = `http://localhost:${apiPort}/codec`;
  // The cluster's frontend takes only clients with the certificate made into the data folder (mutual TLS).
  const temporalTls =
    topology === 'cluster' ? await startCluster(clusterTools!, children, { dataDir, databaseUrl, temporalPort, uiPort, namespace, codecEndpoint, env }) : undefined;
  if (!temporalTls) {
    say(`starting the Temporal dev server (history in ${path.join(dataDir, 'temporal.sqlite')})`);
    children.start('temporal', cli!, [
      'server',
      'start-dev',
      '--ip', '127.0.0.1',
      '--port', String(temporalPort),
      '--ui-port', String(uiPort),
      '--db-filename', path.join(dataDir, 'temporal.sqlite'),
      '--namespace', namespace,
      '--log-level', 'warn',
      // The UI decodes the encrypted payloads through the API's codec server (api/codec-server.ts).
      '--ui-codec-endpoint', codecEndpoint,
      ...searchAttributeCliArgs(),
      ...devServerDynamicConfigArgs(),
    ], devServerGoEnv(env));
    const temporalStarted = Date.now();
    await waitForTemporal(address);
    done('Temporal dev server answering', temporalStarted);
  }

  const keys = developmentKeys(dataDir);
  const roleEnv = {
    API_KEYS: Object.entries(keys).map(([role, key]) => `${role}:${key}`).join(','),
    TEMPORAL_ADDRESS: address,
    TEMPORAL_UI_URL: uiOrigin,
    CODEC_CORS_ORIGINS: env.CODEC_CORS_ORIGINS ?? `${uiOrigin},http://127.0.0.1:${uiPort}`,
    // Every API instance links a case to its caseworker page at one address (a load balancer's in production).
    API_PUBLIC_URL: env.API_PUBLIC_URL ?? `http://localhost:${apiPort}`,
    ...payloadKeys,
    ...(temporalTls ? temporalTlsEnv(temporalTls) : {}),
    DATABASE_URL: databaseUrl,
  };
  const firstMetricsPort = Number(env.WORKER_METRICS_PORT ?? 9464);
  const workerCount = topology === 'cluster' ? 2 : 1;
  const workerMetrics: (number | null)[] = [];
  for (let i = 0; i < workerCount; i++) workerMetrics.push((await portFree(firstMetricsPort + i)) ? firstMetricsPort + i : null);
  const processesStarted = Date.now();
  const bridgeWord = bridge.state === undefined ? '' : bridge.state === 'patched' ? '; SDK bridge with patches/' : "; the SDK's prebuilt bridge";
  say(
    topology === 'cluster'
      ? `starting two workers (each bundles the workflows first${bridgeWord}) and two API instances`
      : `starting the worker (it bundles the workflows first${bridgeWord}) and the API`,
  );
  const name = (role: string, i: number) => (workerCount > 1 ? `${role}-${i + 1}` : role);
  for (let i = 0; i < workerCount; i++) {
    const metrics = workerMetrics[i];
    children.start(name('worker', i), worker.command, worker.args, { ...roleEnv, ...(metrics ? { WORKER_METRICS_PORT: String(metrics) } : {}) }, workerCount > 1 ? { role: 'worker' } : undefined);
  }
  apiPorts.forEach((port, i) =>
    children.start(name('api', i), process.execPath, [path.join(root, 'dist', 'api', 'main.js')], { ...roleEnv, PORT: String(port) }, apiPorts.length > 1 ? { role: 'API instance' } : undefined),
  );
  // The addresses are printed once the API answers ready, so a client started on seeing them (npm run
  // demo:2020) does not find the port still closed.
  let ready = false;
  for (let i = 0; i < 240 && !ready && !children.stopping; i++) {
    const statuses = await Promise.all(apiPorts.map((port) => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status, () => 0)));
    ready = statuses.every((status) => status === 200);
    if (!ready) await new Promise((r) => setTimeout(r, 250));
  }
  if (ready) done(apiPorts.length > 1 ? 'APIs ready' : 'API ready', processesStarted);
  else if (!children.stopping) say('the API did not answer ready within 60 s; its log above says why');
  // Progress only: the worker is up once it polls the task queue, the UI once it serves its page.
  if (await workerPolling(address, workerCount, 120_000, temporalTls)) done(workerCount > 1 ? 'both workers polling the task queue' : 'worker polling the task queue', processesStarted);
  else if (!children.stopping) say(`the worker${workerCount > 1 ? 's' : ''} did not poll the task queue within 120 s; the log above says why`);
  if ((await fetch(`http://127.0.0.1:${uiPort}/`).catch(() => undefined))?.ok) done('Temporal UI answering', processesStarted);
  else if (!children.stopping) say(`the Temporal UI did not answer on port ${uiPort}`);

  printReady({
    topology,
    address,
    namespace,
    uiOrigin,
    apiPorts,
    workerMetrics,
    databaseUrl,
    temporalTls,
    keys,
    keysFile: keysFile(dataDir),
    bridge,
    devStartedAt,
    startedAt,
  });
}

/** True once `count` workers poll the workflow task queue (Temporal lists its pollers); progress only, never fails the stack. */
async function workerPolling(address: string, count: number, withinMs: number, tls?: TemporalTlsFiles): Promise<boolean> {
  const connection = await Connection.connect(clusterConnectionOptions(address, tls)).catch(() => undefined);
  if (!connection) return false;
  try {
    const deadline = Date.now() + withinMs;
    while (!children.stopping && Date.now() < deadline) {
      const pollers = await connection.workflowService
        .describeTaskQueue({
          namespace,
          taskQueue: { name: env.TEMPORAL_TASK_QUEUE ?? 'sickness-benefit-cases' },
          taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
        })
        .then((r) => new Set(r.pollers.map((p) => p.identity)).size, () => 0);
      if (pollers >= count) return true;
      await new Promise((r) => setTimeout(r, 250));
    }
    return false;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

main().catch(async (err: unknown) => {
  process.stderr.write(`[local] ${err instanceof Error ? err.message : String(err)}\n`);
  await shutdown(1);
});
