import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { ROLES } from '../platform/config';
import { createDb, migrate } from '../platform/db';
import { devServerDynamicConfigArgs, devServerGoEnv, workerCommand } from '../platform/dev-server';
import { type LocalPostgres, startLocalPostgres } from '../platform/local-postgres';
import { searchAttributeCliArgs } from '../workflows/search-attributes';
import { newKeySpec, parseKeyring } from '../platform/payload-codec';
import {
  clusterConnectionOptions,
  clusterPortsFrom,
  clusterToolsFromEnv,
  prepareNamespace,
  setupTemporalSchemas,
  spawnTemporalServer,
  TEMPORAL_SERVER_VERSION,
  waitForFrontend,
  writeServerConfig,
  writeUiServerConfig,
} from '../platform/temporal-cluster';
import { ensureTemporalCertificates, TEMPORAL_TLS_SERVER_NAME, temporalTlsEnv, type TemporalTlsFiles } from '../platform/tls-certificates';

/**
 * The whole system on one machine, without Docker: the Temporal dev server (with its Web UI and the
 * case search attributes), Postgres, migrations, the worker and the API. State lives in the data folder
 * (Temporal's SQLite file and Postgres's cluster), so cases survive a restart. Ctrl-C or SIGTERM stops
 * every child process. Started by `npm run dev` (scripts/dev.sh), which builds the tools first.
 *
 * `--cluster` runs the production topology instead (platform/temporal-cluster.ts): the Temporal server with
 * its persistence and SQL visibility in the same Postgres (databases temporal and temporal_visibility), the
 * namespace and search attributes created through the API, the standalone Web UI, two workers and two API
 * instances (PORT and PORT+1). Its read model is the database sygedagpenge_cluster, so that the two
 * topologies' cases never mix. A worker or API instance that exits is reported and the others carry on.
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
// Set by scripts/dev.sh: when `npm run dev` started, and which SDK bridge the worker loads (scripts/lib/tools.sh).
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

const children: ChildProcess[] = [];
let postgres: LocalPostgres | undefined;
let stopping = false;

function say(message: string): void {
  process.stdout.write(`[local] ${message}\n`);
}

/** "0.4 s", "12 s", "3 min 5 s", as scripts/lib/tools.sh prints durations. */
function duration(ms: number): string {
  if (ms < 10_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** Prints `[local] <what> (<time since since>)`. */
function done(what: string, since: number): void {
  say(`${what} (${duration(Date.now() - since)})`);
}

function prefixed(name: string, child: ChildProcess): ChildProcess {
  const forward = (stream: NodeJS.WritableStream) => (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.trim()) stream.write(`[${name}] ${line}\n`);
  };
  child.stdout?.on('data', forward(process.stdout));
  child.stderr?.on('data', forward(process.stderr));
  return child;
}

/**
 * Starts a child whose exit stops everything, or (a `replica` of a role that runs twice: the cluster's workers
 * and APIs) whose exit is reported while the others carry on, as in production; when the last one of its role
 * exits, everything stops.
 */
function start(name: string, command: string, args: string[], extraEnv: Record<string, string> = {}, replica?: { role: string }): ChildProcess {
  return watch(name, prefixed(name, spawn(command, args, { cwd: root, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] })), replica);
}

const replicas = new Map<ChildProcess, string>();

function watch(name: string, child: ChildProcess, replica?: { role: string }): ChildProcess {
  children.push(child);
  if (replica) replicas.set(child, replica.role);
  child.on('exit', (code, signal) => {
    if (stopping) return;
    const others = [...replicas].filter(([c, role]) => c !== child && role === replica?.role && c.exitCode === null && c.signalCode === null);
    if (replica && others.length > 0) {
      say(`${name} exited (${signal ?? code}); ${others.length} other ${replica.role}${others.length > 1 ? 's' : ''} carr${others.length > 1 ? 'y' : 'ies'} on`);
      return;
    }
    say(`${name} exited (${signal ?? code}); stopping everything`);
    void shutdown(1);
  });
  return child;
}

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

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  say('stopping');
  if (bridge.state === 'building' && bridge.cache && !existsSync(path.join(bridge.cache, 'index.node'))) {
    say('the background build of the SDK bridge with patches/ stops too; the next start resumes it');
  }
  // API first (no new work), then the worker, then the servers they talk to.
  for (const child of [...children].reverse()) await stopChild(child);
  await postgres?.stop();
  say('stopped');
  process.exit(code);
}

const keysFile = () => path.join(dataDir, 'api-keys.json');
const payloadKeyFile = () => path.join(dataDir, 'payload-keys');

/**
 * The development keys, made at the first start and kept with the data (npm run ops reads them): one national key per role, and one reader bound to Copenhagen (101) to try the
 * municipality wall with (README, Municipality tenancy). Named `role` or `role@municipalities` as API_KEYS
 * writes them; a data folder from before the bound key gets it at its next start.
 */
const BOUND_DEVELOPMENT_KEY = 'reader@101';

function developmentKeys(): Record<string, string> {
  const stored = existsSync(keysFile()) ? (JSON.parse(readFileSync(keysFile(), 'utf8')) as Record<string, string>) : {};
  const keys = { ...stored };
  for (const name of [...ROLES, BOUND_DEVELOPMENT_KEY]) keys[name] ??= randomBytes(24).toString('base64url');
  if (Object.keys(keys).length !== Object.keys(stored).length) writeFileSync(keysFile(), JSON.stringify(keys, null, 2) + '\n', { mode: 0o600 });
  return keys;
}

/**
 * The payload encryption key of the local stack (README: Payload encryption), made at the first start and
 * kept with the data: Temporal's SQLite file holds only what this key encrypted. PAYLOAD_KEYS or
 * PAYLOAD_KEY_FILE in the environment win.
 */
function developmentPayloadKeys(): Record<string, string> {
  if (env.PAYLOAD_KEYS || env.PAYLOAD_KEY_FILE) return {};
  if (!existsSync(payloadKeyFile())) {
    writeFileSync(payloadKeyFile(), `${newKeySpec(`local-${new Date().toISOString().slice(0, 10)}`)}\n`, { mode: 0o600 });
    say(`payload encryption key made in ${payloadKeyFile()}`);
  }
  parseKeyring(readFileSync(payloadKeyFile(), 'utf8').replace(/\s+/g, ','), payloadKeyFile());
  return { PAYLOAD_KEY_FILE: payloadKeyFile() };
}

async function main(): Promise<void> {
  const clusterTools = topology === 'cluster' ? clusterToolsFromEnv(env) : undefined;
  if (topology === 'dev' && !cli) throw new Error('TEMPORAL_CLI_PATH is not set: start the stack with `npm run dev`, which builds the Temporal CLI');
  if (topology === 'cluster' && !clusterTools) {
    throw new Error('TEMPORAL_SERVER_PATH, TEMPORAL_SQL_TOOL_PATH, TEMPORAL_SCHEMA_DIR and TEMPORAL_UI_SERVER_PATH are not set: start the cluster with `npm run dev -- --cluster`, which builds them');
  }
  // Checked before anything starts: the worker runs below the dev server's CPU priority (platform/dev-server.ts).
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
    // As root in a folder the postgres user cannot enter, the cluster lives outside it (platform/local-postgres.ts).
    if (postgres.dataDir !== path.join(dataDir, 'postgres')) say(`Postgres cluster in ${postgres.dataDir} (linked from ${path.join(dataDir, 'postgres')})`);
    databaseUrl = postgres.url;
    done(fresh ? 'Postgres initialised and up' : 'Postgres up', pgStarted);
  }
  const migrationsStarted = Date.now();
  const db = createDb(databaseUrl, { max: 1 });
  const applied = await migrate(db);
  await db.close();
  done(applied.length > 0 ? `migrations applied: ${applied.map((m) => `${m.version}_${m.name}`).join(', ')}` : 'database schema is current', migrationsStarted);

  const payloadKeys = developmentPayloadKeys();
  const address = `127.0.0.1:${temporalPort}`;
  const uiOrigin = `http://localhost:${uiPort}`;
  const codecEndpoint = `http://localhost:${apiPort}/codec`;
  // The cluster's frontend takes only clients with the certificate made into the data folder (mutual TLS).
  const temporalTls = topology === 'cluster' ? await startCluster(clusterTools!, databaseUrl, address, codecEndpoint) : undefined;
  if (!temporalTls) {
    say(`starting the Temporal dev server (history in ${path.join(dataDir, 'temporal.sqlite')})`);
    start('temporal', cli!, [
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

  const keys = developmentKeys();
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
    start(name('worker', i), worker.command, worker.args, { ...roleEnv, ...(metrics ? { WORKER_METRICS_PORT: String(metrics) } : {}) }, workerCount > 1 ? { role: 'worker' } : undefined);
  }
  apiPorts.forEach((port, i) =>
    start(name('api', i), process.execPath, [path.join(root, 'dist', 'api', 'main.js')], { ...roleEnv, PORT: String(port) }, apiPorts.length > 1 ? { role: 'API instance' } : undefined),
  );
  // The addresses are printed once the API answers ready, so a client started on seeing them (npm run
  // demo:2020) does not find the port still closed.
  let ready = false;
  for (let i = 0; i < 240 && !ready && !stopping; i++) {
    const statuses = await Promise.all(apiPorts.map((port) => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status, () => 0)));
    ready = statuses.every((status) => status === 200);
    if (!ready) await new Promise((r) => setTimeout(r, 250));
  }
  if (ready) done(apiPorts.length > 1 ? 'APIs ready' : 'API ready', processesStarted);
  else if (!stopping) say('the API did not answer ready within 60 s; its log above says why');
  // Progress only: the worker is up once it polls the task queue, the UI once it serves its page.
  if (await workerPolling(address, workerCount, 120_000, temporalTls)) done(workerCount > 1 ? 'both workers polling the task queue' : 'worker polling the task queue', processesStarted);
  else if (!stopping) say(`the worker${workerCount > 1 ? 's' : ''} did not poll the task queue within 120 s; the log above says why`);
  if ((await fetch(`http://127.0.0.1:${uiPort}/`).catch(() => undefined))?.ok) done('Temporal UI answering', processesStarted);
  else if (!stopping) say(`the Temporal UI did not answer on port ${uiPort}`);

  say('');
  say(`Temporal UI   ${uiOrigin}`);
  say(
    topology === 'cluster'
      ? `Temporal      ${address} (namespace ${namespace}; server v${TEMPORAL_SERVER_VERSION}, history and SQL visibility in Postgres; mutual TLS, certificates in ${temporalTls!.dir})`
      : `Temporal      ${address} (namespace ${namespace})`,
  );
  if (temporalTls) {
    // The frontend refuses a client without the certificate: the CLI needs these flags (or TEMPORAL_TLS_* in its environment).
    const t = temporalTls;
    say(`Temporal CLI  temporal workflow list --address ${address} --tls-ca-path ${t.ca} --tls-cert-path ${t.clientCert} --tls-key-path ${t.clientKey} --tls-server-name ${TEMPORAL_TLS_SERVER_NAME}`);
  }
  for (const port of apiPorts) say(`API           http://localhost:${port}  (docs: /api/v1/docs, metrics: /metrics, health: /healthz, /readyz)`);
  workerMetrics.forEach((port, i) => port && say(`Worker metrics http://localhost:${port}/metrics${workerCount > 1 ? ` (worker-${i + 1})` : ''}`));
  say(`Postgres      ${databaseUrl.replace(/:[^:@/]+@/, ':***@')}`);
  say('');
  say(`Development API keys (Authorization: Bearer <key>; kept in ${keysFile()}):`);
  for (const [role, key] of Object.entries(keys)) say(`  ${role.padEnd(12)} ${key}`);
  // Payloads are encrypted (README: Payload encryption): the UI shows them through the API's codec server.
  say(`Cases in clear in the UI: sign in once at http://localhost:${apiPort}/codec/login (any user name, the reader key as password)`);
  if (topology === 'dev') say("  and in the UI's Codec Server settings tick 'Use my browser setting' and 'Include cross-origin credentials'");
  if (bridge.state === 'patched') say('SDK bridge    built with patches/ (as in production)');
  else if (bridge.note) say(`SDK bridge    the SDK's prebuilt one: ${bridge.note}`);
  if (topology === 'cluster') say('A worker or API instance that exits is reported and the other carries on.');
  say('Ctrl-C stops everything; the data folder keeps the cases for the next start.');
  say(
    devStartedAt
      ? `ready ${duration(Date.now() - devStartedAt)} after \`npm run dev\` started (setup ${duration(startedAt - devStartedAt)}, servers ${duration(Date.now() - startedAt)})`
      : `ready ${duration(Date.now() - startedAt)} after the stack started`,
  );
}

/**
 * The cluster topology's Temporal: the schemas brought up to date in Postgres, the certificates of its frontend's
 * mutual TLS (made once into the data folder), the server started on its config (written into the data folder on
 * every start, from code), the namespace and the search attributes created through the API, and the standalone
 * Web UI decoding through the API's codec server. Returns the certificate files the engine's processes connect with.
 */
async function startCluster(tools: NonNullable<ReturnType<typeof clusterToolsFromEnv>>, databaseUrl: string, address: string, codecEndpoint: string): Promise<TemporalTlsFiles> {
  const url = new URL(databaseUrl);
  const pg = { host: url.hostname, port: Number(url.port || 5432), user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  const schemaStarted = Date.now();
  const databases = await setupTemporalSchemas(tools, pg);
  done(`Temporal's databases ready in Postgres: ${databases.join(', ')}`, schemaStarted);
  const tlsStarted = Date.now();
  const { files: tls, made } = await ensureTemporalCertificates(path.join(dataDir, 'temporal-tls'));
  done(made ? `certificates for Temporal's mutual TLS made in ${tls.dir}` : `certificates for Temporal's mutual TLS in ${tls.dir}`, tlsStarted);
  const dir = path.join(dataDir, 'temporal-cluster');
  const { args } = writeServerConfig(path.join(dir, 'server'), { ports: clusterPortsFrom(temporalPort), postgres: pg, tls });
  say(`starting the Temporal server v${TEMPORAL_SERVER_VERSION} (config in ${path.join(dir, 'server')}; history and visibility in Postgres)`);
  const serverStarted = Date.now();
  const server = watch('temporal', prefixed('temporal', spawnTemporalServer(tools, args, env)));
  await waitForFrontend(address, server, 120_000, undefined, tls);
  done('Temporal server answering', serverStarted);
  const nsStarted = Date.now();
  const connection = await Connection.connect(clusterConnectionOptions(address, tls));
  try {
    const { namespaceCreated, attributesAdded } = await prepareNamespace(connection, namespace);
    done(
      `namespace ${namespace} ${namespaceCreated ? 'created' : 'present'}; ` +
        (attributesAdded.length > 0 ? `search attributes added: ${attributesAdded.join(', ')}` : 'search attributes present'),
      nsStarted,
    );
  } finally {
    await connection.close();
  }
  const ui = writeUiServerConfig(path.join(dir, 'ui'), { port: uiPort, temporalAddress: address, codecEndpoint, namespace, tls });
  start('temporal-ui', tools.uiServer, ui.args);
  return tls;
}

/** True once `count` workers poll the workflow task queue (Temporal lists its pollers); progress only, never fails the stack. */
async function workerPolling(address: string, count: number, withinMs: number, tls?: TemporalTlsFiles): Promise<boolean> {
  const connection = await Connection.connect(clusterConnectionOptions(address, tls)).catch(() => undefined);
  if (!connection) return false;
  try {
    const deadline = Date.now() + withinMs;
    while (!stopping && Date.now() < deadline) {
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
