import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type Server } from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { createApp } from '../api/app';
import { type Role } from '../platform/config';
import { createDb, type Db, migrate } from '../platform/db';
import { devServerDynamicConfigArgs, devServerGoEnv, workerCommand } from '../platform/dev-server';
import { createLogger } from '../platform/logger';
import { type LocalPostgres, startLocalPostgres } from '../platform/local-postgres';
import { clusterToolsFromEnv, type ClusterTools, freeClusterPorts, prepareNamespace, setupTemporalSchemas, spawnTemporalServer, waitForFrontend, writeServerConfig } from '../platform/temporal-cluster';
import { freePort } from '../platform/ports';
import { addDays, copenhagenDate } from '../workflows/domain/dates';
import { type PolicyRevision } from '../workflows/domain/types';
import { caseWorkflowId, type CaseWorkflowInput } from '../workflows/messages';
import { CaseIdKey, CaseStatusKey, MunicipalityKey, searchAttributeCliArgs } from '../workflows/search-attributes';
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
export function benchOptions<K extends string, S extends string = never>(
  program: string,
  usage: string,
  defaults: Record<K, number>,
  strings: readonly S[] = [],
): Record<K, number> & Partial<Record<S, string>> {
  const names = Object.keys(defaults) as K[];
  const { values } = commandLine(program, usage, Object.fromEntries([...names, ...strings].map((n) => [n, { type: 'string' as const }])), { positionals: false });
  const given = values as Partial<Record<K | S, string>>;
  return {
    ...Object.fromEntries(strings.filter((n) => given[n] !== undefined).map((n) => [n, given[n]])),
    ...Object.fromEntries(names.map((n) => [n, numberOption(program, usage, n, given[n], defaults[n])])),
  } as Record<K, number> & Partial<Record<S, string>>;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
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
 * Where the cluster's tools are: from the environment, else scripts/tools.sh cluster (which builds them the
 * first time, as npm run dev -- --cluster does).
 */
function clusterTools(root: string): ClusterTools {
  const fromEnv = clusterToolsFromEnv();
  if (fromEnv) return fromEnv;
  const out = execFileSync('bash', [path.join(root, 'scripts', 'tools.sh'), 'cluster'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const tools = clusterToolsFromEnv(Object.fromEntries([...out.matchAll(/^(TEMPORAL_\w+)=(.*)$/gm)].map((m) => [m[1], m[2]])));
  if (!tools) throw new Error(`scripts/tools.sh cluster did not report the cluster's tool paths:\n${out}`);
  return tools;
}

// A benchmark stopped by Ctrl-C or kill ends its servers too (they would otherwise outlive it).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void abort(new Error(`stopped by ${signal}`)));

export async function startBenchStack(options: {
  temporal: boolean;
  /**
   * 'dev' (default): the Temporal CLI's dev server (SQLite). 'cluster': the Temporal server built from Go modules
   * (platform/temporal-cluster.ts) on this stack's Postgres with SQL visibility, as npm run dev -- --cluster runs it.
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
  const root = path.resolve(__dirname, '..', '..');
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

/**
 * CPU seconds of this stack's Postgres: its postmaster (the postgres process whose command line names the
 * stack's data folder) and every backend it forked, ended ones included (a postmaster's cutime). Other
 * Postgres servers on the machine (other benchmarks, test suites) are not counted.
 */
function postgresCpuSeconds(dataDir: string | undefined): number {
  if (!dataDir) return 0;
  const pids = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  let postmaster: string | undefined;
  for (const pid of pids) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres' && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dataDir)) postmaster = pid;
    } catch {
      // the process ended between listing and reading
    }
  }
  if (!postmaster) return 0;
  let total = statCpuSeconds(postmaster, true);
  for (const pid of pids) {
    try {
      const ppid = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1];
      if (ppid === postmaster) total += statCpuSeconds(pid);
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

/** Counts rows: `sql` selects one `n`. */
export async function countRows(db: Db, sql: string, params: unknown[] = []): Promise<number> {
  return Number((await db.query<{ n: string }>(sql, params))[0]!.n);
}

/** Running case workflows that visibility lists. */
export async function visibleCases(client: Client): Promise<number> {
  return Number((await client.workflowService.countWorkflowExecutions({ namespace: 'default', query: `WorkflowType = 'caseWorkflow' AND ExecutionStatus = 'Running'` })).count);
}

/**
 * Opens `count` cases (`BENCH-0` ...) through the bare Temporal client, `concurrency` starts in flight (the
 * workflow start only: no API validation nor inherited policies, which bench:start measures), and waits until
 * each has its read-model row and visibility lists it. Returns the seconds it took. `progress` is called every
 * `progressEveryMs` with the starts so far.
 */
export async function openCases(
  stack: BenchStack,
  count: number,
  options: {
    concurrency?: number;
    progress?: (started: number, seconds: number) => void;
    progressEveryMs?: number;
    /**
     * Start a case only while fewer than this many started cases are missing from the read model, so the
     * starts go at the worker's pace instead of taking the cores from it (unbounded when not given).
     */
    maxAhead?: number;
  } = {},
): Promise<number> {
  const today = copenhagenDate(Date.now());
  const began = Date.now();
  let next = 0;
  let done = 0;
  let inReadModel = 0;
  let counted = 0;
  /** The read model's case count, asked at most every 500 ms however many starts wait on it. */
  const readModelCount = async () => {
    if (Date.now() - counted >= 500) {
      counted = Date.now();
      inReadModel = await countRows(stack.db, 'SELECT count(*) AS n FROM cases');
    }
    return inReadModel;
  };
  const timer = options.progress ? setInterval(() => options.progress!(done, (Date.now() - began) / 1000), options.progressEveryMs ?? 30_000) : undefined;
  try {
    await Promise.all(
      Array.from({ length: options.concurrency ?? 100 }, async () => {
        while (next < count) {
          const i = next++;
          while (options.maxAhead !== undefined && i - (await readModelCount()) >= options.maxAhead) await sleep(250);
          const caseId = `BENCH-${i}`;
          const input: CaseWorkflowInput = {
            facts: { caseId, citizenRef: `REF-${i}`, municipality: '101', firstAbsenceDay: addDays(today, -(i % 40)), employment: 'employee' },
            policies: [],
          };
          // A start the server did not answer in time (a loaded dev server) is tried again; if the first
          // attempt did land, the case is there and the retry says so.
          for (let attempt = 1; ; attempt++) {
            try {
              await stack.client.workflow.start('caseWorkflow', {
                workflowId: caseWorkflowId(caseId),
                taskQueue: stack.taskQueue,
                args: [input],
                typedSearchAttributes: [
                  { key: CaseIdKey, value: caseId },
                  { key: MunicipalityKey, value: '101' },
                  { key: CaseStatusKey, value: 'open' },
                ],
              });
              break;
            } catch (err) {
              if (attempt > 1 && err instanceof WorkflowExecutionAlreadyStartedError) break;
              if (attempt >= 10) throw err;
              const cause = (err as Error & { cause?: Error }).cause;
              say(`  starting ${caseId} failed (${(err as Error).message}${cause ? `: ${cause.message}` : ''}); trying again (attempt ${attempt + 1})`);
              await sleep(1_000 * attempt);
            }
          }
          done++;
        }
      }),
    );
    while ((await countRows(stack.db, 'SELECT count(*) AS n FROM cases')) < count || (await visibleCases(stack.client)) < count) await sleep(500);
  } finally {
    clearInterval(timer);
  }
  return (Date.now() - began) / 1000;
}

/** A national suspension (scope all) effective today, as the fan-out benchmarks publish it. */
export function benchPolicy(policyId: string): PolicyRevision {
  return {
    policyId,
    revision: 1,
    title: 'Benchmark suspension',
    effectiveFrom: copenhagenDate(Date.now()),
    scope: { type: 'all' },
    effects: [{ type: 'pauseDeadlines' }],
  };
}

/** Publishes a policy through the API (POST /api/v1/policy-changes), which starts its fan-out. */
export async function publishPolicy(stack: BenchStack, policy: PolicyRevision): Promise<void> {
  const res = await fetch(`${stack.api}/api/v1/policy-changes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.keys.ops}` },
    body: JSON.stringify(policy),
  });
  if (res.status !== 201) throw new Error(`publishing failed: ${res.status} ${await res.text()}`);
}

/** Cases whose read model says they applied the policy. */
export const appliedCount = (db: Db, policyId: string) => countRows(db, 'SELECT count(*) AS n FROM case_policies WHERE policy_id = $1', [policyId]);

/** Cases signalled so far by the policy's fan-out (its own count in policy_fanouts). */
export const signalledCount = (db: Db, policyId: string) => countRows(db, 'SELECT coalesce(sum(signalled), 0) AS n FROM policy_fanouts WHERE policy_id = $1', [policyId]);

/** Cases that applied the policy in each 5 s since `since` (epoch ms), from case_policies.applied_at. */
export async function appliedPer5s(db: Db, policyId: string, since: number): Promise<number[]> {
  const rows = await db.query<{ bucket: number; n: string }>(
    `SELECT floor(extract(epoch FROM applied_at - to_timestamp($2 / 1000.0)) / 5)::int AS bucket, count(*) AS n
     FROM case_policies WHERE policy_id = $1 GROUP BY 1 ORDER BY 1`,
    [policyId, since],
  );
  const counts = Array.from({ length: Math.max(0, ...rows.map((r) => r.bucket + 1)) }, () => 0);
  for (const r of rows) counts[r.bucket] = Number(r.n);
  return counts;
}

/**
 * Calls GET /api/v1/ops/verify (what `npm run ops -- verify` prints) until it reports nothing missing and
 * nothing stale; returns each call's milliseconds. The convergence clocks stop when this returns.
 */
export async function untilVerifyClean(stack: BenchStack, pauseMs = 250): Promise<number[]> {
  const times: number[] = [];
  for (;;) {
    const asked = Date.now();
    const report = (await (await fetch(`${stack.api}/api/v1/ops/verify`, { headers: { authorization: `Bearer ${stack.keys.ops}` } })).json()) as { ok: boolean };
    times.push(Date.now() - asked);
    if (report.ok) return times;
    await sleep(pauseMs);
  }
}

/** Resident memory of a process now, in MB (Linux). */
export function rssMb(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return NaN;
  }
}
