import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { eventually, SERVER_START_TRIES } from './eventually';
import { developmentKeys, keysFile } from './local-stack/keys';
import { done, printReady, say } from './local-stack/output';
import { portFree } from './ports';
import { type Stack, startStack } from './stack';
import { type Part } from './stack/children';
import { clusterPortsFrom } from './temporal-cluster/config';
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
 * The stack itself is started by the one harness, dev/stack.ts, as the benchmarks and the tests start it; this
 * file adds npm run dev's fixed ports, the development keys (dev/local-stack/keys.ts), and what it prints
 * (dev/local-stack/output.ts).
 */
const root = path.resolve(__dirname, '..', '..');
const env = process.env;
const dataDir = path.resolve(env.SFE_DATA_DIR ?? path.join(root, '.data'));
const temporalPort = Number(env.TEMPORAL_PORT ?? 7233);
const uiPort = Number(env.TEMPORAL_UI_PORT ?? 8233);
const apiPort = Number(env.PORT ?? 3000);
const pgPort = Number(env.LOCAL_PG_PORT ?? 55432);
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

let stack: Stack | undefined;
let stopStarting: (() => Promise<void>) | undefined;
let shuttingDown = false;

async function shutdown(code: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  say('stopping');
  if (bridge.state === 'building' && bridge.cache && !existsSync(path.join(bridge.cache, 'index.node'))) {
    say('the background build of the SDK bridge with patches/ stops too; the next start resumes it');
  }
  await (stack?.stop() ?? stopStarting?.());
  say('stopped');
  process.exit(code);
}

/**
 * A child that exits stops everything, except a replica of a part that runs twice (the cluster's workers and
 * APIs): that one is reported while the others carry on, as in production, until the last one of its part exits.
 */
function onExit({ name, part, code, signal, others }: { name: string; part: Part; code: number | null; signal: NodeJS.Signals | null; others: number }): void {
  const role = part === 'worker' ? 'worker' : 'API instance';
  if ((part === 'worker' || part === 'api') && others > 0) say(`${name} exited (${signal ?? code}); ${others} other ${role}${others > 1 ? 's' : ''} carr${others > 1 ? 'y' : 'ies'} on`);
  else {
    say(`${name} exited (${signal ?? code}); stopping everything`);
    void shutdown(1);
  }
}

async function main(): Promise<void> {
  if (topology === 'dev' && !env.TEMPORAL_CLI_PATH) throw new Error('TEMPORAL_CLI_PATH is not set: start the stack with `npm run dev`, which builds the Temporal CLI');
  if (topology === 'cluster' && !clusterToolsFromEnv(env)) {
    throw new Error('TEMPORAL_SERVER_PATH, TEMPORAL_SQL_TOOL_PATH, TEMPORAL_SCHEMA_DIR and TEMPORAL_UI_SERVER_PATH are not set: start the cluster with `npm run dev -- --cluster`, which builds them');
  }
  process.once('SIGINT', () => void shutdown(0));
  process.once('SIGTERM', () => void shutdown(0));
  const apiPorts = topology === 'cluster' ? [apiPort, apiPort + 1] : [apiPort];
  const wanted: [number, string][] = [
    [temporalPort, 'Temporal (TEMPORAL_PORT)'],
    [uiPort, 'Temporal UI (TEMPORAL_UI_PORT)'],
    ...apiPorts.map((port, i): [number, string] => [port, i === 0 ? 'the API (PORT)' : `API instance ${i + 1} (PORT+${i})`]),
    ...(env.DATABASE_URL ? [] : [[pgPort, 'Postgres (LOCAL_PG_PORT)'] as [number, string]]),
  ];
  if (topology === 'cluster') {
    for (const [what, port] of Object.entries(clusterPortsFrom(temporalPort))) if (port !== temporalPort) wanted.push([port, `the Temporal server's ${what} port (TEMPORAL_PORT+${port - temporalPort})`]);
  }
  for (const [port, what] of wanted) {
    if (!(await portFree(port))) throw new Error(`port ${port} for ${what} is in use; stop what holds it or choose another port`);
  }
  const stackStarted = Date.now();
  // The keys are kept in the data folder, so it exists before the stack starts.
  mkdirSync(dataDir, { recursive: true });
  const keys = developmentKeys(dataDir);
  stack = await startStack({
    topology,
    dataDir,
    ports: { temporal: temporalPort, ui: uiPort, api: apiPort, postgres: pgPort, workerMetrics: Number(env.WORKER_METRICS_PORT ?? 9464) },
    ui: true,
    databaseUrl: env.DATABASE_URL || undefined,
    // The cluster topology keeps its own read model: its cases live in its own Temporal, not the dev server's.
    database: topology === 'cluster' ? 'sygedagpenge_cluster' : 'sygedagpenge',
    namespace,
    keys,
    env,
    output: 'prefixed',
    progress: (what, since) => (since === undefined ? say(what) : done(what, since)),
    onExit,
    processesNote: bridge.state === undefined ? '' : bridge.state === 'patched' ? '; SDK bridge with patches/' : "; the SDK's prebuilt bridge",
    onStarting: (stop) => (stopStarting = stop),
  });
  const pgDir = stack.pids().postgresDataDir;
  if (pgDir && pgDir !== path.join(dataDir, 'postgres')) say(`Postgres cluster in ${pgDir} (linked from ${path.join(dataDir, 'postgres')})`);
  // Progress only: the worker is up once it polls the task queue, the UI once it serves its page.
  const workerCount = stack.workerMetricsPorts.length;
  if (await workersPolling(stack, workerCount)) done(workerCount > 1 ? 'both workers polling the task queue' : 'worker polling the task queue', stackStarted);
  else if (!shuttingDown) say(`the worker${workerCount > 1 ? 's' : ''} did not poll the task queue within 120 s; the log above says why`);
  if ((await fetch(`http://127.0.0.1:${uiPort}/`).catch(() => undefined))?.ok) done('Temporal UI answering', stackStarted);
  else if (!shuttingDown) say(`the Temporal UI did not answer on port ${uiPort}`);

  printReady({
    topology,
    address: stack.address,
    namespace,
    uiOrigin: stack.uiUrl!,
    apiPorts,
    workerMetrics: stack.workerMetricsPorts,
    databaseUrl: stack.databaseUrl,
    temporalTls: stack.tls,
    keys,
    keysFile: keysFile(dataDir),
    bridge,
    devStartedAt,
    startedAt,
  });
}

/** True once `count` workers poll the workflow task queue (Temporal lists its pollers); progress only, never fails the stack. */
async function workersPolling(s: Stack, count: number): Promise<boolean> {
  const pollers = () =>
    s.client.workflowService
      .describeTaskQueue({ namespace, taskQueue: { name: s.taskQueue }, taskQueueType: 1 /* TASK_QUEUE_TYPE_WORKFLOW */ })
      .then((r) => new Set(r.pollers.map((p) => p.identity)).size, () => 0);
  return eventually(pollers, (n) => n >= count || shuttingDown, 'workers polling', SERVER_START_TRIES).then((n) => n >= count, () => false);
}

main().catch(async (err: unknown) => {
  process.stderr.write(`[local] ${err instanceof Error ? err.message : String(err)}\n`);
  await shutdown(1);
});
