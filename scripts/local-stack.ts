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

/**
 * The whole system on one machine, without Docker: the Temporal dev server (with its Web UI and the
 * case search attributes), Postgres, migrations, the worker and the API. State lives in the data folder
 * (Temporal's SQLite file and Postgres's cluster), so cases survive a restart. Ctrl-C or SIGTERM stops
 * every child process. Started by `npm run dev` (scripts/dev.sh), which builds the tools first.
 */
const root = path.resolve(__dirname, '..', '..');
const env = process.env;
const dataDir = path.resolve(env.SFE_DATA_DIR ?? path.join(root, '.data'));
const temporalPort = Number(env.TEMPORAL_PORT ?? 7233);
const uiPort = Number(env.TEMPORAL_UI_PORT ?? 8233);
const apiPort = Number(env.PORT ?? 3000);
const pgPort = Number(env.LOCAL_PG_PORT ?? 55432);
const cli = env.TEMPORAL_CLI_PATH;
const startedAt = Date.now();
// Set by scripts/dev.sh: when `npm run dev` started, and which SDK bridge the worker loads (scripts/lib/tools.sh).
const devStartedAt = Number(env.SFE_DEV_STARTED_MS) || undefined;
const bridge = { state: env.SFE_CORE_BRIDGE_STATE, note: env.SFE_CORE_BRIDGE_NOTE, cache: env.SFE_CORE_BRIDGE_CACHE };

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

function start(name: string, command: string, args: string[], extraEnv: Record<string, string> = {}): ChildProcess {
  const child = prefixed(name, spawn(command, args, { cwd: root, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] }));
  children.push(child);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      say(`${name} exited (${signal ?? code}); stopping everything`);
      void shutdown(1);
    }
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

/** One key per role for local use, made at the first start and kept with the data (npm run ops reads them). */
function developmentKeys(): Record<string, string> {
  if (existsSync(keysFile())) return JSON.parse(readFileSync(keysFile(), 'utf8')) as Record<string, string>;
  const keys = Object.fromEntries(ROLES.map((role) => [role, randomBytes(24).toString('base64url')]));
  writeFileSync(keysFile(), JSON.stringify(keys, null, 2) + '\n', { mode: 0o600 });
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
  if (!cli) throw new Error('TEMPORAL_CLI_PATH is not set: start the stack with `npm run dev`, which builds the Temporal CLI');
  // Checked before anything starts: the worker runs below the dev server's CPU priority (platform/dev-server.ts).
  const worker = workerCommand(process.execPath, [path.join(root, 'dist', 'worker', 'main.js')], env);
  process.once('SIGINT', () => void shutdown(0));
  process.once('SIGTERM', () => void shutdown(0));
  for (const [port, what] of [
    [temporalPort, 'Temporal (TEMPORAL_PORT)'],
    [uiPort, 'Temporal UI (TEMPORAL_UI_PORT)'],
    [apiPort, 'API (PORT)'],
  ] as const) {
    if (!(await portFree(port))) throw new Error(`port ${port} for ${what} is in use; stop what holds it or choose another port`);
  }
  mkdirSync(dataDir, { recursive: true });

  let databaseUrl = env.DATABASE_URL;
  if (!databaseUrl) {
    if (!(await portFree(pgPort))) throw new Error(`port ${pgPort} for Postgres (LOCAL_PG_PORT) is in use`);
    const fresh = !existsSync(path.join(dataDir, 'postgres', 'PG_VERSION'));
    say(`starting Postgres (data in ${path.join(dataDir, 'postgres')}${fresh ? '; a new cluster: initdb first' : ''})`);
    const pgStarted = Date.now();
    postgres = await startLocalPostgres({ dataDir: path.join(dataDir, 'postgres'), port: pgPort, database: 'sygedagpenge' });
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
  say(`starting the Temporal dev server (history in ${path.join(dataDir, 'temporal.sqlite')})`);
  start('temporal', cli, [
    'server',
    'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(temporalPort),
    '--ui-port', String(uiPort),
    '--db-filename', path.join(dataDir, 'temporal.sqlite'),
    '--namespace', env.TEMPORAL_NAMESPACE ?? 'default',
    '--log-level', 'warn',
    // The UI decodes the encrypted payloads through the API's codec server (api/codec-server.ts).
    '--ui-codec-endpoint', `http://localhost:${apiPort}/codec`,
    ...searchAttributeCliArgs(),
    ...devServerDynamicConfigArgs(),
  ], devServerGoEnv(env));
  const temporalStarted = Date.now();
  const address = `127.0.0.1:${temporalPort}`;
  await waitForTemporal(address);
  done('Temporal dev server answering', temporalStarted);

  const keys = developmentKeys();
  const roleEnv = {
    API_KEYS: Object.entries(keys).map(([role, key]) => `${role}:${key}`).join(','),
    TEMPORAL_ADDRESS: address,
    TEMPORAL_UI_URL: `http://localhost:${uiPort}`,
    CODEC_CORS_ORIGINS: env.CODEC_CORS_ORIGINS ?? `http://localhost:${uiPort},http://127.0.0.1:${uiPort}`,
    ...payloadKeys,
    DATABASE_URL: databaseUrl,
    PORT: String(apiPort),
  };
  const workerMetricsPort = Number(env.WORKER_METRICS_PORT ?? 9464);
  const workerMetrics = (await portFree(workerMetricsPort)) ? workerMetricsPort : null;
  const processesStarted = Date.now();
  const bridgeWord = bridge.state === undefined ? '' : bridge.state === 'patched' ? '; SDK bridge with patches/' : "; the SDK's prebuilt bridge";
  say(`starting the worker (it bundles the workflows first${bridgeWord}) and the API`);
  start('worker', worker.command, worker.args, {
    ...roleEnv,
    ...(workerMetrics ? { WORKER_METRICS_PORT: String(workerMetrics) } : {}),
  });
  start('api', process.execPath, [path.join(root, 'dist', 'api', 'main.js')], roleEnv);
  // The addresses are printed once the API answers ready, so a client started on seeing them (npm run
  // demo:2020) does not find the port still closed.
  let ready = false;
  for (let i = 0; i < 240 && !ready && !stopping; i++) {
    ready = (await fetch(`http://127.0.0.1:${apiPort}/readyz`).catch(() => undefined))?.status === 200;
    if (!ready) await new Promise((r) => setTimeout(r, 250));
  }
  if (ready) done('API ready', processesStarted);
  else if (!stopping) say('the API did not answer ready within 60 s; its log above says why');
  // Progress only: the worker is up once it polls the task queue, the UI once it serves its page.
  if (await workerPolling(address, 120_000)) done('worker polling the task queue', processesStarted);
  else if (!stopping) say('the worker did not poll the task queue within 120 s; its log above says why');
  if ((await fetch(`http://127.0.0.1:${uiPort}/`).catch(() => undefined))?.ok) done('Temporal UI answering', processesStarted);
  else if (!stopping) say(`the Temporal UI did not answer on port ${uiPort}`);

  say('');
  say(`Temporal UI   http://localhost:${uiPort}`);
  say(`Temporal      ${address} (namespace ${env.TEMPORAL_NAMESPACE ?? 'default'})`);
  say(`API           http://localhost:${apiPort}  (docs: /api/v1/docs, metrics: /metrics, health: /healthz, /readyz)`);
  if (workerMetrics) say(`Worker metrics http://localhost:${workerMetrics}/metrics`);
  say(`Postgres      ${databaseUrl.replace(/:[^:@/]+@/, ':***@')}`);
  say('');
  say(`Development API keys (Authorization: Bearer <key>; kept in ${keysFile()}):`);
  for (const [role, key] of Object.entries(keys)) say(`  ${role.padEnd(12)} ${key}`);
  if (bridge.state === 'patched') say('SDK bridge    built with patches/ (as in production)');
  else if (bridge.note) say(`SDK bridge    the SDK's prebuilt one: ${bridge.note}`);
  say('Ctrl-C stops everything; the data folder keeps the cases for the next start.');
  say(
    devStartedAt
      ? `ready ${duration(Date.now() - devStartedAt)} after \`npm run dev\` started (setup ${duration(startedAt - devStartedAt)}, servers ${duration(Date.now() - startedAt)})`
      : `ready ${duration(Date.now() - startedAt)} after the stack started`,
  );
}

/** True once a worker polls the workflow task queue (Temporal lists its pollers); progress only, never fails the stack. */
async function workerPolling(address: string, withinMs: number): Promise<boolean> {
  const connection = await Connection.connect({ address }).catch(() => undefined);
  if (!connection) return false;
  try {
    const deadline = Date.now() + withinMs;
    while (!stopping && Date.now() < deadline) {
      const pollers = await connection.workflowService
        .describeTaskQueue({
          namespace: env.TEMPORAL_NAMESPACE ?? 'default',
          taskQueue: { name: env.TEMPORAL_TASK_QUEUE ?? 'sickness-benefit-cases' },
          taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
        })
        .then((r) => r.pollers.length, () => 0);
      if (pollers > 0) return true;
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
