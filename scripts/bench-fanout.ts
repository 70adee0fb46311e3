import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type Server } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../api/app';
import { createDb, migrate } from '../platform/db';
import { createLogger } from '../platform/logger';
import { type LocalPostgres, startLocalPostgres } from '../platform/local-postgres';
import { addDays, copenhagenDate } from '../workflows/domain/dates';
import { type PolicyRevision } from '../workflows/domain/types';
import { caseWorkflowId, type CaseWorkflowInput } from '../workflows/messages';
import { CaseIdKey, CaseStatusKey, MunicipalityKey, searchAttributeCliArgs } from '../workflows/search-attributes';

/**
 * npm run bench:fanout -- --cases 10000 [--rate 2000]
 *
 * Starts its own Temporal dev server, Postgres and a production worker, opens N cases, then measures in
 * the same run against the same server: (1) publishing a policy through the API until every case has
 * applied it (the read model's case_policies), and (2) the bare server-side batch signal
 * (`temporal workflow signal --query ...`) of another policy until every case has applied it. Prints the
 * number of cases, seconds, signals per second and the ratio of the two rates.
 */
const root = path.resolve(__dirname, '..', '..');
const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const CASES = option('cases', 10_000);
const RATE = option('rate', 2_000);
const cli = process.env.TEMPORAL_CLI_PATH;
const children: ChildProcess[] = [];
let postgres: LocalPostgres | undefined;

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (text: string) => process.stdout.write(`${text}\n`);

async function main(): Promise<void> {
  if (!cli) throw new Error('TEMPORAL_CLI_PATH is not set: run through npm run bench:fanout');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sfe-bench-'));
  chmodSync(dir, 0o755);
  const [temporalPort, pgPort] = [await freePort(), await freePort()];
  const address = `127.0.0.1:${temporalPort}`;
  const taskQueue = 'bench-fanout';

  const pg = await startLocalPostgres({ dataDir: path.join(dir, 'pg'), port: pgPort, database: 'bench' });
  postgres = pg;
  const db = createDb(pg.url);
  await migrate(db);
  const temporal = spawn(cli, ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(temporalPort), '--log-level', 'error', ...searchAttributeCliArgs()], {
    stdio: 'ignore',
  });
  children.push(temporal);
  let connection: Connection | undefined;
  for (let i = 0; i < 120 && !connection; i++) {
    connection = await Connection.connect({ address, connectTimeout: 1_000 }).catch(async () => (await sleep(500), undefined));
  }
  if (!connection) throw new Error('the Temporal dev server did not start');
  const client = new Client({ connection });
  // BENCH_WORKER_NODE_ARGS passes flags to the worker's node, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const workerNodeArgs = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const worker = spawn(process.execPath, [...workerNodeArgs, path.join(root, 'dist', 'worker', 'main.js')], {
    env: { ...process.env, TEMPORAL_ADDRESS: address, TEMPORAL_TASK_QUEUE: taskQueue, DATABASE_URL: pg.url, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(worker);
  const opsKey = randomBytes(24).toString('base64url');
  const app = createApp({
    client,
    db,
    apiKeys: [{ role: 'ops', key: opsKey }],
    temporal: { address, namespace: 'default', taskQueue, uiUrl: 'http://localhost:8233' },
    logger: createLogger('warn'),
    fanoutSignalsPerSecond: RATE,
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const api = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;

  const count = async (sql: string, params: unknown[] = []) => Number((await db.query<{ n: string }>(sql, params))[0]!.n);
  const visible = async () =>
    Number((await client.workflowService.countWorkflowExecutions({ namespace: 'default', query: `WorkflowType = 'caseWorkflow' AND ExecutionStatus = 'Running'` })).count);

  say(`Opening ${CASES} cases ...`);
  const today = copenhagenDate(Date.now());
  let started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 100 }, async () => {
      while (next < CASES) {
        const i = next++;
        const caseId = `BENCH-${i}`;
        const input: CaseWorkflowInput = {
          facts: { caseId, citizenRef: `REF-${i}`, municipality: '101', firstAbsenceDay: addDays(today, -(i % 40)), employment: 'employee' },
          policies: [],
        };
        await client.workflow.start('caseWorkflow', {
          workflowId: caseWorkflowId(caseId),
          taskQueue,
          args: [input],
          typedSearchAttributes: [
            { key: CaseIdKey, value: caseId },
            { key: MunicipalityKey, value: '101' },
            { key: CaseStatusKey, value: 'open' },
          ],
        });
      }
    }),
  );
  while ((await count('SELECT count(*) AS n FROM cases')) < CASES || (await visible()) < CASES) await sleep(500);
  say(`  ${CASES} cases open and idle after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  // The fan-out re-checks cases started within a minute of publication; let the cohort age past that, so
  // the measurement is of an established cohort, as in operations.
  const settle = 61_000 - (Date.now() - started);
  if (settle > 0) {
    say(`  waiting ${(settle / 1000).toFixed(0)} s so no case counts as a recent start`);
    await sleep(settle);
  }

  const policy = (policyId: string): PolicyRevision => ({
    policyId,
    revision: 1,
    title: 'Benchmark suspension',
    effectiveFrom: today,
    scope: { type: 'all' },
    effects: [{ type: 'pauseDeadlines' }],
  });
  const applied = (policyId: string) => count('SELECT count(*) AS n FROM case_policies WHERE policy_id = $1', [policyId]);

  say('Fan-out through the API ...');
  started = Date.now();
  const res = await fetch(`${api}/api/v1/policy-changes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${opsKey}` },
    body: JSON.stringify(policy('bench-fanout')),
  });
  if (res.status !== 201) throw new Error(`publishing failed: ${res.status} ${await res.text()}`);
  let signalledAt = 0;
  while ((await applied('bench-fanout')) < CASES) {
    if (!signalledAt && (await count(`SELECT coalesce(sum(signalled), 0) AS n FROM policy_fanouts WHERE policy_id = 'bench-fanout'`)) >= CASES) {
      signalledAt = Date.now();
    }
    await sleep(100);
  }
  const fanoutSeconds = (Date.now() - started) / 1000;
  const signalSeconds = ((signalledAt || Date.now()) - started) / 1000;

  say('Bare batch signal (temporal workflow signal --query) ...');
  started = Date.now();
  await promisify(execFile)(cli, [
    'workflow', 'signal', '--address', address, '--namespace', 'default',
    '--query', `WorkflowType = 'caseWorkflow' AND ExecutionStatus = 'Running'`,
    '--name', 'policyChange', '--input', JSON.stringify(policy('bench-bare')), '--reason', 'benchmark', '--yes',
  ]);
  while ((await applied('bench-bare')) < CASES) await sleep(100);
  const bareSeconds = (Date.now() - started) / 1000;

  const peakRss = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${worker.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  const fanoutRate = CASES / fanoutSeconds;
  const bareRate = CASES / bareSeconds;
  say('');
  say(`cases                                  ${CASES}`);
  say(`fan-out: seconds until all signalled   ${signalSeconds.toFixed(1)}`);
  say(`fan-out: seconds until all applied     ${fanoutSeconds.toFixed(1)}`);
  say(`fan-out: signals per second            ${fanoutRate.toFixed(0)}   (rate bound ${RATE}/s)`);
  say(`bare batch: seconds until all applied  ${bareSeconds.toFixed(1)}`);
  say(`bare batch: signals per second         ${bareRate.toFixed(0)}`);
  say(`ratio fan-out / bare                   ${(fanoutRate / bareRate).toFixed(2)}   (target >= 0.8; 10,000 cases within 60 s)`);
  say(`worker peak memory (RSS)               ${peakRss.toFixed(0)} MB`);

  server.close();
  await connection.close();
  for (const child of children) child.kill('SIGTERM');
  await db.close();
  await pg.stop();
  rmSync(dir, { recursive: true, force: true });
}

main().catch(async (err: unknown) => {
  process.stderr.write(`bench:fanout: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  for (const child of children) child.kill('SIGKILL');
  await postgres?.stop();
  process.exit(1);
});
