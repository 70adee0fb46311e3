import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { createDb, type Db } from '../../platform/db';
import { devServerDynamicConfigArgs, devServerGoEnv } from '../../platform/dev-server';
import { type LocalPostgres, startLocalPostgres } from '../../platform/local-postgres';
import { type Role } from '../../platform/config';
import { searchAttributeCliArgs } from '../../workflows/search-attributes';
import { freePort, testKeyring, toolPaths } from './servers';
import { caseDataConverter } from '../../platform/temporal';
import { eventually } from './system';

/**
 * The system as production runs it, every part a real process the test can kill and start again: the Temporal
 * dev server on a SQLite file, Postgres, the worker (dist/worker/main.js) and the API (dist/api/main.js), each
 * configured by environment variables only. For the fault-injection suite.
 */
const root = path.resolve(__dirname, '..', '..');

export interface ProcessSystem {
  client: Client;
  db: Db;
  keys: Record<Role, string>;
  taskQueue: string;
  api(method: string, path: string, body?: unknown, role?: Role): Promise<{ status: number; body: any }>;
  /** Runs the ops CLI against the API: its exit code and output. */
  ops(...args: string[]): Promise<{ code: number; stdout: string }>;
  startTemporal(): Promise<void>;
  killTemporal(): Promise<void>;
  startWorker(): void;
  killWorker(signal?: NodeJS.Signals): Promise<void>;
  startApi(): Promise<void>;
  killApi(): Promise<void>;
  stopPostgres(): Promise<void>;
  startPostgres(): Promise<void>;
  /** A file-level backup of the stopped Postgres cluster, and restoring it (Postgres stopped and started around it). */
  backupPostgres(): Promise<void>;
  restorePostgres(): Promise<void>;
  stop(): Promise<void>;
}

const exited = (child: ChildProcess | undefined) =>
  new Promise<void>((resolve) => (!child || child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

export async function startProcessSystem(options: { taskQueue: string; signalsPerSecond: number }): Promise<ProcessSystem> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sfe-faults-'));
  chmodSync(dir, 0o755); // Postgres runs as its own user (we are root) and must enter the folder
  const [temporalPort, pgPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const temporalAddress = `127.0.0.1:${temporalPort}`;
  const keys: Record<Role, string> = { 'case-system': 'fault-key-case-system-001', ops: 'fault-key-ops-0000000001', reader: 'fault-key-reader-00000001' };
  let pg: LocalPostgres | undefined = await startLocalPostgres({ dataDir: path.join(dir, 'pg'), port: pgPort, database: 'sygedagpenge_faults' });
  const pgUrl = pg.url;
  const db = createDb(pgUrl);
  let temporal: ChildProcess | undefined;
  let worker: ChildProcess | undefined;
  let apiProcess: ChildProcess | undefined;
  const env = {
    ...process.env,
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_TASK_QUEUE: options.taskQueue,
    DATABASE_URL: pgUrl,
    LOG_LEVEL: 'error',
    PAYLOAD_KEYS: testKeyring().spec,
  };

  const system: ProcessSystem = {
    client: undefined as unknown as Client,
    db,
    keys,
    taskQueue: options.taskQueue,
    async api(method, p, body, role) {
      const as = role ?? (p.startsWith('/api/v1/policy-changes') || p.startsWith('/api/v1/ops') ? 'ops' : 'case-system');
      const res = await fetch(`http://127.0.0.1:${apiPort}${p}`, {
        method,
        headers: { authorization: `Bearer ${keys[as]}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    },
    async ops(...args) {
      try {
        const { stdout } = await promisify(execFile)(process.execPath, [path.join(root, 'dist', 'scripts', 'ops.js'), ...args, '--api', `http://127.0.0.1:${apiPort}`, '--key', keys.ops]);
        return { code: 0, stdout };
      } catch (err) {
        const e = err as { code?: number; stdout?: string };
        return { code: e.code ?? 1, stdout: e.stdout ?? '' };
      }
    },
    async startTemporal() {
      temporal = spawn(
        toolPaths().cli,
        ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(temporalPort), '--db-filename', path.join(dir, 'temporal.sqlite'), '--log-level', 'error', ...searchAttributeCliArgs(), ...devServerDynamicConfigArgs()],
        { stdio: 'ignore', env: { ...process.env, ...devServerGoEnv() } },
      );
      const connection = await eventually(
        () => Connection.connect({ address: temporalAddress, connectTimeout: 1_000 }).catch(() => null),
        (c) => c !== null,
        'Temporal answers',
      );
      await eventually(
        () => connection!.workflowService.getSystemInfo({}).then(() => true, () => false),
        (ok) => ok,
        'Temporal ready',
      );
      if (!system.client) system.client = new Client({ connection: connection!, namespace: 'default', dataConverter: caseDataConverter(testKeyring().keyring) });
      else await connection!.close();
    },
    async killTemporal() {
      temporal?.kill('SIGKILL');
      await exited(temporal);
    },
    startWorker() {
      worker = spawn(process.execPath, [path.join(root, 'dist', 'worker', 'main.js')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    },
    async killWorker(signal = 'SIGKILL') {
      worker?.kill(signal);
      await exited(worker);
    },
    async startApi() {
      apiProcess = spawn(process.execPath, [path.join(root, 'dist', 'api', 'main.js')], {
        env: {
          ...env,
          PORT: String(apiPort),
          API_KEYS: Object.entries(keys).map(([role, key]) => `${role}:${key}`).join(','),
          API_WRITE_RATE_PER_SECOND: '10000',
          FANOUT_SIGNALS_PER_SECOND: String(options.signalsPerSecond),
          FANOUT_VISIBILITY_LAG_MS: '1000',
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      await eventually(
        () => fetch(`http://127.0.0.1:${apiPort}/readyz`).then((r) => r.status, () => 0),
        (status) => status === 200,
        'API ready',
      );
    },
    async killApi() {
      apiProcess?.kill('SIGKILL');
      await exited(apiProcess);
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
      for (const child of [apiProcess, worker]) child?.kill('SIGTERM');
      await Promise.all([exited(apiProcess), exited(worker)]);
      await system.client?.connection.close().catch(() => undefined);
      temporal?.kill('SIGTERM');
      await exited(temporal);
      await db.close();
      await pg?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await system.startTemporal();
  system.startWorker();
  await system.startApi();
  return system;
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
