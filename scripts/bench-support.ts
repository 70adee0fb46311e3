import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { type Server } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../api/app';
import { type Role } from '../platform/config';
import { createDb, type Db, migrate } from '../platform/db';
import { devServerDynamicConfigArgs, devServerGoEnv, workerCommand } from '../platform/dev-server';
import { createLogger } from '../platform/logger';
import { type LocalPostgres, startLocalPostgres } from '../platform/local-postgres';
import { searchAttributeCliArgs } from '../workflows/search-attributes';
import { newKeySpec, parseKeyring } from '../platform/payload-codec';
import { caseDataConverter } from '../platform/temporal';
import { commandLine, numberOption } from './cli';

/**
 * What the benchmarks run against, all started here on free ports and stopped at the end: Postgres, and
 * unless told otherwise the Temporal dev server and a production worker (dist/worker/main.js), with the
 * API in this process. Benchmarks are run on demand (npm run bench:*), never by npm test.
 */
export interface BenchStack {
  db: Db;
  client: Client;
  address: string;
  taskQueue: string;
  api: string;
  keys: Record<Role, string>;
  worker?: ChildProcess;
  /** The Temporal dev server's process id, when the stack runs one. */
  temporalPid?: number;
  /** CPU seconds used so far by each part of the stack (Linux /proc). */
  cpuSeconds(): CpuSeconds;
  stop(): Promise<void>;
}

export interface CpuSeconds {
  temporal: number;
  worker: number;
  postgres: number;
  /** This process: the benchmark's own client, and the API unless it runs as its own process. */
  bench: number;
  api: number;
}

export { sleep };
export const say = (text: string) => process.stdout.write(`${text}\n`);

/** Node flags for a process the bench starts, from an environment variable (space-separated). */
export function nodeArgsFrom(variable: string): string[] {
  return (process.env[variable] ?? '').split(' ').filter(Boolean);
}

/**
 * A benchmark's numeric options (`--cases 10000`), each with its default; an unknown option or a value that
 * is not a number stops the benchmark with the usage, `--help` prints it.
 */
export function benchOptions<K extends string>(program: string, usage: string, defaults: Record<K, number>): Record<K, number> {
  const names = Object.keys(defaults) as K[];
  const { values } = commandLine(program, usage, Object.fromEntries(names.map((n) => [n, { type: 'string' as const }])), { positionals: false });
  const given = values as Partial<Record<K, string>>;
  return Object.fromEntries(names.map((n) => [n, numberOption(program, usage, n, given[n], defaults[n])])) as Record<K, number>;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

const children: ChildProcess[] = [];
let postgres: LocalPostgres | undefined;

/** Ends the benchmark's processes if it fails half-way. */
export async function abort(err: unknown): Promise<never> {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  for (const child of children) child.kill('SIGKILL');
  await postgres?.stop();
  process.exit(1);
}

export async function startBenchStack(options: {
  temporal: boolean;
  fanoutSignalsPerSecond?: number;
  workerNodeArgs?: string[];
  /** Run the API as its own production process (dist/api/main.js), as deployed, instead of in this one. */
  apiProcess?: boolean;
  apiNodeArgs?: string[];
}): Promise<BenchStack> {
  const root = path.resolve(__dirname, '..', '..');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sfe-bench-'));
  chmodSync(dir, 0o755);
  postgres = await startLocalPostgres({ dataDir: path.join(dir, 'pg'), port: await freePort(), database: 'bench' });
  const pgUrl = postgres.url;
  const db = createDb(pgUrl, { max: 20 });
  await migrate(db);
  const taskQueue = 'bench';
  // Encrypted as in production: the benchmark measures the codec's cost too.
  const payloadKeys = newKeySpec('bench');
  let address = '127.0.0.1:1';
  let connection: Connection;
  let worker: ChildProcess | undefined;
  let temporalServer: ChildProcess | undefined;
  let apiProcess: ChildProcess | undefined;
  if (options.temporal) {
    const cli = process.env.TEMPORAL_CLI_PATH;
    if (!cli) throw new Error('TEMPORAL_CLI_PATH is not set: run the benchmark through npm run bench:*');
    address = `127.0.0.1:${await freePort()}`;
    children.push(temporalServer = spawn(cli, ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', address.split(':')[1]!, '--log-level', 'error', ...searchAttributeCliArgs(), ...devServerDynamicConfigArgs()], { stdio: 'ignore', env: { ...process.env, ...devServerGoEnv() } }));
    let connected: Connection | undefined;
    for (let i = 0; i < 120 && !connected; i++) connected = await Connection.connect({ address, connectTimeout: 1_000 }).catch(async () => (await sleep(500), undefined));
    if (!connected) throw new Error('the Temporal dev server did not start');
    connection = connected;
    const niced = workerCommand(process.execPath, [...(options.workerNodeArgs ?? []), path.join(root, 'dist', 'worker', 'main.js')]);
    worker = spawn(niced.command, niced.args, {
      env: { ...process.env, TEMPORAL_ADDRESS: address, TEMPORAL_TASK_QUEUE: taskQueue, DATABASE_URL: pgUrl, LOG_LEVEL: 'warn', PAYLOAD_KEYS: payloadKeys },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(worker);
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
    fanoutSignalsPerSecond: options.fanoutSignalsPerSecond,
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
    client,
    address,
    taskQueue,
    api,
    keys,
    worker,
    temporalPid: temporalServer?.pid,
    cpuSeconds: () => ({
      temporal: processCpuSeconds(temporalServer?.pid),
      worker: processCpuSeconds(worker?.pid),
      postgres: postgresCpuSeconds(),
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
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU seconds of one process from /proc/<pid>/stat (Linux): user plus system time of all its threads, and
 * with `children` also of its ended, waited-for children. After "pid (comm) " the fields are numbered
 * from 3 (state): utime is 14, stime 15, cutime 16, cstime 17 (proc(5)).
 */
function statCpuSeconds(pid: number | string, children = false): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ').map(Number);
  const ticks = fields[11]! + fields[12]! + (children ? fields[13]! + fields[14]! : 0);
  return ticks / CLOCK_TICKS_PER_SECOND;
}

function processCpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    return statCpuSeconds(pid);
  } catch {
    return 0; // the process has ended
  }
}

/** CPU seconds of every postgres process now running (the server and its backends, with those ended). */
function postgresCpuSeconds(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres') total += statCpuSeconds(entry, true);
    } catch {
      // the process ended between listing and reading
    }
  }
  return total;
}

/** The CPU seconds each part used between two readings. */
export function cpuDelta(before: CpuSeconds, after: CpuSeconds): CpuSeconds {
  return Object.fromEntries((Object.keys(after) as (keyof CpuSeconds)[]).map((k) => [k, after[k] - before[k]])) as unknown as CpuSeconds;
}

/** The CPU seconds each part used between two readings, as one line (parts that never ran left out). */
export function cpuUsed(before: CpuSeconds, after: CpuSeconds): string {
  const used = cpuDelta(before, after);
  return (Object.keys(after) as (keyof CpuSeconds)[])
    .filter((k) => after[k] > 0)
    .map((k) => `${k} ${used[k].toFixed(1)}`)
    .join(', ');
}

/** Peak resident memory of a process, in MB (Linux). */
export function peakRssMb(pid: number | undefined): number {
  if (!pid) return NaN;
  return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}
