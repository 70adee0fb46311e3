import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { copenhagenDate } from '../workflows/domain/dates';
import { CACHED_CASE_RSS_KB, caseCacheSize, type CaseCacheSize, WORKER_BASE_MB } from '../worker/worker';
import {
  abort,
  appliedCount,
  appliedPer5s,
  type BenchStack,
  benchOptions,
  benchPolicy,
  countRows,
  cpuDelta,
  type CpuSeconds,
  nodeArgsFrom,
  openCases,
  peakRssMb,
  percentile,
  publishPolicy,
  rssMb,
  say,
  signalledCount,
  sleep,
  startBenchStack,
  untilVerifyClean,
  visibleCases,
} from './support';
import { DEFAULT_FANOUT_MAX_IN_FLIGHT } from '../platform/config';
import { TEMPORAL_SERVER_VERSION } from '../dev/temporal-cluster/tools';

/**
 * npm run bench:national -- [--cases 100000] [--cluster 0] [--workers N] [--worker-memory-mb MB] [--rate 2000] [--in-flight N] [--probe-rate 5] [--idle-seconds 60] [--give-up-minutes 0] [--open-ahead 0] [--keep-opened DIR]
 *
 * National scale (issue #14): opens N cases (the bare client's batch start, as bench:fanout), measures the API's
 * latency for case events (POST /api/v1/cases/:id/events) while idle, then publishes a national policy (scope
 * all) through the API and measures, with the same probe running, until every case has applied it and
 * `ops verify` is clean. Prints the time to converge, each process's peak RSS and CPU seconds (in total and per
 * case), and the events' p50/p99 idle and during the fan-out. The API runs as its own production process.
 * Progress lines every 30 s, so a run stopped early still says how far it got.
 *
 * With --keep-opened DIR (dev server only) the opened cases are kept in DIR/opened, and a later run with the
 * same DIR and --cases starts from a copy of them (DIR/run) instead of opening them again: on two cores opening
 * 100,000 cases takes over an hour, and the fan-out as long again, more than one sitting. Either way the policy
 * then runs on a restarted stack, whose worker holds no case in memory, after it has settled.
 *
 * With --worker-memory-mb each worker sizes its cache from that memory budget (WORKER_MEMORY_MB) and bounds its
 * workflow threads' heaps by it; the benchmark says at the start whether each worker's share of the cases fits its
 * cache, and at the end each worker's peak RSS against its budget.
 */
const USAGE = `usage: npm run bench:national -- [--cases 100000] [--cluster 0] [--workers N] [--worker-memory-mb MB] [--rate 2000] [--in-flight N] [--probe-rate 5] [--idle-seconds 60] [--give-up-minutes 0] [--open-ahead 0] [--keep-opened DIR]

  --cases N            open cases before the national policy (default 100000)
  --cluster 1          run on the Temporal cluster (server built from Go modules, Postgres, SQL visibility)
                       instead of the dev server (default 0: the dev server)
  --workers N          worker processes (default: 1 on the dev server, 2 on the cluster)
  --worker-memory-mb MB  each worker's memory budget (WORKER_MEMORY_MB), which sizes its cache and bounds its
                       workflow threads' heaps; default 0: the workers'
                       own setting from the environment, else as many cases as fit node's default heap
  --rate N             the fan-out's bound on signals per second (default 2000)
  --in-flight N        the fan-out's bound on cases signalled and not yet applied (default: FANOUT_MAX_IN_FLIGHT's, 4)
  --probe-rate N       case events a second sent to sample the API's latency (default 5)
  --idle-seconds N     how long the idle latency is sampled before the policy (default 60)
  --give-up-minutes N  stop the fan-out's clock after N minutes and print what was reached (default 0: never)
  --open-ahead N        start a case only while fewer than N started cases are missing from the read model, so the
                       starts go at the worker's pace (default 0: as fast as the server takes them)
  --keep-opened DIR    keep the opened cases in DIR/opened and, when DIR already holds N opened cases, start the
                       policy from a copy of them instead of opening them again (dev server only)`;
const options = benchOptions(
  'bench:national',
  USAGE,
  { cases: 100_000, cluster: 0, workers: 0, 'worker-memory-mb': 0, rate: 2_000, 'in-flight': 0, 'probe-rate': 5, 'idle-seconds': 60, 'give-up-minutes': 0, 'open-ahead': 0 },
  ['keep-opened'],
);
const CASES = options.cases;
const CLUSTER = options.cluster !== 0;
const WORKERS = options.workers || (CLUSTER ? 2 : 1);
const PROBE_RATE = options['probe-rate'];
const POLICY = 'bench-national';
const TOPOLOGY = CLUSTER ? `Temporal cluster v${TEMPORAL_SERVER_VERSION} on Postgres (SQL visibility), ${WORKERS} workers` : `Temporal dev server (SQLite), ${WORKERS} worker(s)`;

const MiB = 1024 * 1024;
/**
 * Each worker's cache, as worker/main.ts sizes it: from --worker-memory-mb (handed to the workers as
 * WORKER_MEMORY_MB; the worker then bounds its workflow threads' heaps by it itself), else from what the environment
 * gives them. The workers inherit this process's environment and run the same node, so without a heap flag their
 * heap is this process's.
 */
function workerCache(): { cache: CaseCacheSize; memoryMb?: number; nodeArgs: string[] } {
  const nodeArgs = nodeArgsFrom('BENCH_WORKER_NODE_ARGS');
  const budget = options['worker-memory-mb'] || undefined;
  if (budget !== undefined) {
    if (process.env.WORKER_MAX_CACHED_WORKFLOWS) throw new Error('--worker-memory-mb and WORKER_MAX_CACHED_WORKFLOWS both size the cache: give one');
    process.env.WORKER_MEMORY_MB = String(budget);
  }
  const heapFlag = nodeArgs.map((a) => /^--max-old-space-size=(\d+)$/.exec(a)?.[1]).find(Boolean);
  const heapLimit = heapFlag ? Number(heapFlag) * MiB : getHeapStatistics().heap_size_limit;
  const fromEnv = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);
  const memoryMb = fromEnv('WORKER_MEMORY_MB');
  const setting = { memoryMb, cases: fromEnv('WORKER_MAX_CACHED_WORKFLOWS'), workflowThreads: fromEnv('WORKER_WORKFLOW_THREADS') };
  return { cache: caseCacheSize(setting, heapLimit), memoryMb, nodeArgs };
}
const WORKER_CACHE = workerCache();

/** Whether each worker's share of the cases fits its cache, and the budget that would make it fit (a tenth spare: the cases do not split evenly). */
function cacheFit(): string {
  const { cache, memoryMb } = WORKER_CACHE;
  const share = Math.ceil(CASES / WORKERS);
  const needMb = WORKER_BASE_MB + Math.ceil((share * 1.1 * CACHED_CASE_RSS_KB) / 1024);
  const sizedBy = { count: 'WORKER_MAX_CACHED_WORKFLOWS', 'memory-budget': `WORKER_MEMORY_MB=${memoryMb}, workflow threads' heaps ${cache.workflowThreadHeapMb} MB each`, heap: "node's heap" }[cache.from];
  const fit = cache.cases >= share ? 'fits' : `does not fit: the cases past it are replayed (WORKER_MEMORY_MB=${needMb} would hold them)`;
  const machine = memoryMb && memoryMb * WORKERS > os.totalmem() / MiB ? `; ${WORKERS} budgets of ${memoryMb} MB exceed this machine's ${(os.totalmem() / MiB).toFixed(0)} MB` : '';
  return `each worker's cache: ${cache.cases} cases (${sizedBy}); each worker's share, about ${share} cases, ${fit}${machine}`;
}

/**
 * Sends one case event every 1/rate s to a random open case, as a case system would, and keeps each answer's
 * latency (ms). Event ids count (`probe-n1`, ...): ten digits in a row would be refused as a CPR number. At most 50 in flight: a slower answer does not slow the arrivals until then.
 */
let probes = 0;

function startProbe(stack: BenchStack, cases: number, rate: number) {
  const latencies: number[] = [];
  const failures: string[] = [];
  let inFlight = 0;
  let stopped = false;
  const send = async () => {
    const caseId = `BENCH-${Math.floor(Math.random() * cases)}`;
    const body = JSON.stringify({ eventId: `probe-n${++probes}`, type: 'information-form-received', occurredOn: copenhagenDate(Date.now()) });
    const t = performance.now();
    inFlight++;
    try {
      const res = await fetch(`${stack.api}/api/v1/cases/${caseId}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.keys['case-system']}` },
        body,
      });
      if (res.status === 200) await res.arrayBuffer();
      if (res.status === 200) latencies.push(performance.now() - t);
      else failures.push(`${caseId}: ${res.status} ${(await res.text().catch(() => '')).slice(0, 200)}`);
    } catch (err) {
      failures.push(`${caseId}: ${String(err)}`);
    } finally {
      inFlight--;
    }
  };
  const timer = setInterval(() => {
    if (!stopped && inFlight < 50) void send();
  }, 1000 / rate);
  return {
    latencies,
    failures,
    async stop() {
      stopped = true;
      clearInterval(timer);
      while (inFlight > 0) await sleep(50);
    },
  };
}

const fmt = (ms: number) => (Number.isFinite(ms) ? ms.toFixed(1) : '-');

/** What the opening cost, kept with the opened cases for a later run to print. */
interface Opening {
  cases: number;
  openedAt: string;
  seconds: number;
  cpu: CpuSeconds;
  workerCpu: number[];
}

async function main(): Promise<void> {
  const common = {
    temporal: true,
    topology: CLUSTER ? ('cluster' as const) : ('dev' as const),
    workers: WORKERS,
    fanoutSignalsPerSecond: options.rate,
    fanoutMaxInFlight: options['in-flight'],
    apiNodeArgs: nodeArgsFrom('BENCH_API_NODE_ARGS'),
    workerNodeArgs: WORKER_CACHE.nodeArgs,
  };
  say(`${TOPOLOGY}; API as its own process; fan-out bound: ${options.rate} signals a second, ${options['in-flight'] || DEFAULT_FANOUT_MAX_IN_FLIGHT} cases in flight`);
  say(cacheFit());
  const keep = options['keep-opened'] ? path.resolve(options['keep-opened']) : undefined;
  if (keep && CLUSTER) throw new Error('--keep-opened is for the dev server only');
  const opened = keep && path.join(keep, 'opened');
  const marker = opened && path.join(opened, 'opening.json');
  const kept = marker && existsSync(marker) ? (JSON.parse(readFileSync(marker, 'utf8')) as Opening) : undefined;

  if (kept && opened && existsSync(path.join(opened, 'pg'))) {
    // Kept before the one stack harness, which names the read model's folder postgres: reusing it would start an empty one.
    throw new Error(`--keep-opened: ${opened} was kept by an earlier version (its Postgres is in pg/, now postgres/); rename ${path.join(opened, 'pg')} to postgres or open the cases again in another folder`);
  }
  if (kept && kept.cases !== CASES) {
    // Opening them took hours; another count is another folder, never a silent replacement.
    throw new Error(`--keep-opened: ${opened} holds ${kept.cases} opened cases, not the ${CASES} of --cases; give --cases ${kept.cases} or another folder`);
  }
  let stack: BenchStack;
  let opening: Opening;
  if (kept) {
    opening = kept;
    say(`Reusing the ${CASES} cases opened ${kept.openedAt} in ${opened} (opening took ${kept.seconds.toFixed(1)} s then)`);
  } else {
    if (opened) rmSync(opened, { recursive: true, force: true });
    stack = await startBenchStack({ ...common, dataDir: opened });
    if (opened && lstatSync(path.join(opened, 'postgres')).isSymbolicLink()) {
      // Postgres (its own user when we are root) could not enter the folder and keeps its cluster elsewhere,
      // behind a link: a copy of the folder would share that cluster instead of copying it.
      await stack.stop();
      rmSync(path.dirname(realpathSync(path.join(opened, 'postgres'))), { recursive: true, force: true });
      rmSync(opened, { recursive: true, force: true });
      throw new Error(`--keep-opened: the Postgres user cannot enter ${keep}, so its data would not be copied with the folder; choose a folder it can enter (e.g. under /var/tmp)`);
    }
    opening = await openAll(stack);
    if (!marker) return measurePolicy(stack, opening);
    await stack.stop();
    writeFileSync(marker, JSON.stringify(opening, null, 2));
    say(`  kept in ${opened}`);
  }
  // The policy runs on a copy, so the opened cases can serve another run.
  const run = path.join(keep!, 'run');
  rmSync(run, { recursive: true, force: true });
  execFileSync('cp', ['-a', opened!, run]);
  stack = await startBenchStack({ ...common, dataDir: run });
  await settle(stack);
  await measurePolicy(stack, opening);
}

/** Opens the cases, printing progress, and returns what it cost. */
async function openAll(stack: BenchStack): Promise<Opening> {
  say(`Opening ${CASES} cases (bare client batch start) ...`);
  const cpu = stack.cpuSeconds();
  const workerCpu = stack.workerCpuSeconds();
  const seconds = await openCases(stack, CASES, {
    ...(options['open-ahead'] > 0 ? { maxAhead: options['open-ahead'] } : {}),
    progress: (n, s) => void countRows(stack.db, 'SELECT count(*) AS n FROM cases').then((rows) => say(`  ${s.toFixed(0)} s: ${n} started, ${rows} in the read model; ${memory(stack)}`)),
  });
  say(`  ${CASES} cases open and idle after ${seconds.toFixed(1)} s (${(CASES / seconds).toFixed(0)} a second); ${memory(stack)}`);
  return { cases: CASES, openedAt: new Date().toISOString(), seconds, cpu: cpuDelta(cpu, stack.cpuSeconds()), workerCpu: stack.workerCpuSeconds().map((c, i) => c - workerCpu[i]!) };
}

const memory = (stack: BenchStack) =>
  `Temporal ${rssMb(stack.pids().temporal).toFixed(0)} MB, ${stack.pids().workers.map((pid, i) => `worker-${i + 1} ${rssMb(pid).toFixed(0)} MB`).join(', ')}, API ${rssMb(stack.pids().apis[0]).toFixed(0)} MB`;

/**
 * Waits until a restarted stack is quiet: every case in the read model and visible, and the workers using
 * less than 5% of a core over 10 s (timers that fell due while the stack was stopped have fired).
 */
async function settle(stack: BenchStack): Promise<void> {
  say('Restarted on a copy of the opened cases; waiting until the worker is idle ...');
  const began = Date.now();
  while ((await countRows(stack.db, 'SELECT count(*) AS n FROM cases')) < CASES || (await visibleCases(stack.client)) < CASES) await sleep(1_000);
  for (;;) {
    if (Date.now() - began > 30 * 60_000) throw new Error('the restarted stack did not settle within 30 minutes (the worker kept using CPU)');
    const before = stack.cpuSeconds().worker;
    await sleep(10_000);
    const used = stack.cpuSeconds().worker - before;
    say(`  ${((Date.now() - began) / 1000).toFixed(0)} s: worker ${used.toFixed(1)} CPU s in 10 s; ${memory(stack)}`);
    if (used < 0.5) break;
  }
}

async function measurePolicy(stack: BenchStack, opening: Opening): Promise<void> {
  const { db } = stack;
  const openSeconds = opening.seconds;
  const openCpu = opening.cpu;
  const openWorkerCpu = opening.workerCpu;
  say(`Sampling case events idle: ${PROBE_RATE} a second for ${options['idle-seconds']} s ...`);
  const idle = startProbe(stack, CASES, PROBE_RATE);
  await sleep(options['idle-seconds'] * 1000);
  await idle.stop();

  say('National policy (scope all) through the API ...');
  const during = startProbe(stack, CASES, PROBE_RATE);
  const cpu = stack.cpuSeconds();
  const workerCpu = stack.workerCpuSeconds();
  const started = Date.now();
  const elapsed = () => (Date.now() - started) / 1000;
  await publishPolicy(stack, benchPolicy(POLICY));
  const giveUpAt = options['give-up-minutes'] > 0 ? started + options['give-up-minutes'] * 60_000 : Infinity;
  let signalledAt = 0;
  let lastProgress = Date.now();
  let applied = 0;
  while ((applied = await appliedCount(db, POLICY)) < CASES && Date.now() < giveUpAt) {
    if (!signalledAt && (await signalledCount(db, POLICY)) >= CASES) signalledAt = Date.now();
    if (Date.now() - lastProgress >= 30_000) {
      lastProgress = Date.now();
      const recent = during.latencies.slice(-PROBE_RATE * 30);
      say(`  ${elapsed().toFixed(0)} s: ${applied} applied (${(applied / elapsed()).toFixed(0)} a second); events p50 ${fmt(percentile(recent, 50))} ms p99 ${fmt(percentile(recent, 99))} ms; ${memory(stack)}`);
    }
    // Counting costs Postgres too; once a second is small next to what is measured.
    await sleep(1_000);
  }
  const appliedSeconds = elapsed();
  const converged = applied >= CASES;
  let verifyTimes: number[] = [];
  if (converged) verifyTimes = await untilVerifyClean(stack, 1_000);
  const convergeSeconds = elapsed();
  await during.stop();
  const fanoutCpu = cpuDelta(cpu, stack.cpuSeconds());
  const fanoutWorkerCpu = stack.workerCpuSeconds().map((c, i) => c - workerCpu[i]!);
  const signalSeconds = signalledAt ? (signalledAt - started) / 1000 : NaN;
  const completed = await countRows(db, `SELECT count(*) AS n FROM policy_fanouts WHERE policy_id = $1 AND status = 'completed'`, [POLICY]);
  const sizes = await db.query<{ datname: string; mb: string }>(
    `SELECT datname, (pg_database_size(datname) / 1048576)::text AS mb FROM pg_database WHERE datname NOT IN ('template0', 'template1', 'postgres') ORDER BY 1`,
  );
  const per5s = await appliedPer5s(db, POLICY, started);

  const perCase = (cpuSeconds: number, cases: number) => `${((cpuSeconds / cases) * 1000).toFixed(2)} ms`;
  const cpuLines = (label: string, used: CpuSeconds, perWorker: number[], cases: number) => {
    say(`CPU seconds, ${label} (and per case):`);
    for (const k of ['temporal', 'postgres', 'api', 'bench'] as const) say(`  ${k.padEnd(10)} ${used[k].toFixed(1).padStart(8)}   ${perCase(used[k], cases)}`);
    perWorker.forEach((c, i) => say(`  ${`worker-${i + 1}`.padEnd(10)} ${c.toFixed(1).padStart(8)}   ${perCase(c, cases)}`));
  };

  say('');
  say(`topology                               ${TOPOLOGY}`);
  say(`cases                                  ${CASES}`);
  say(`opening: seconds, cases a second       ${openSeconds.toFixed(1)}, ${(CASES / openSeconds).toFixed(0)}`);
  say(`fan-out: seconds until all signalled   ${fmt(signalSeconds)}`);
  say(`fan-out: seconds until all applied     ${converged ? appliedSeconds.toFixed(1) : `not reached: ${applied} of ${CASES} after ${appliedSeconds.toFixed(0)} s (gave up)`}`);
  say(`fan-out: seconds until verify clean    ${converged ? convergeSeconds.toFixed(1) : '-'}   (the clock; issue #21's target at 100,000 cases: 1,200 s)${converged ? `; ${(CASES / convergeSeconds).toFixed(0)} cases a second` : ''}`);
  say(`fan-out: completed by its own count    ${completed > 0 ? 'yes' : 'not yet'}`);
  say(`verify: calls, median ms per call      ${verifyTimes.length}, ${fmt(percentile(verifyTimes, 50))}`);
  say(`cases applied per 5 s                  ${per5s.join(' ')}`);
  say(`case events idle:   n, p50, p99 ms     ${idle.latencies.length}, ${fmt(percentile(idle.latencies, 50))}, ${fmt(percentile(idle.latencies, 99))}   (${idle.failures.length} failed)`);
  say(`case events during: n, p50, p99 ms     ${during.latencies.length}, ${fmt(percentile(during.latencies, 50))}, ${fmt(percentile(during.latencies, 99))}   (${during.failures.length} failed)`);
  say(`p99 during / idle                      ${(percentile(during.latencies, 99) / percentile(idle.latencies, 99)).toFixed(2)}   (target <= 2)`);
  for (const f of [...idle.failures, ...during.failures].slice(0, 5)) say(`  failed: ${f}`);
  say(`peak RSS, Temporal server              ${peakRssMb(stack.pids().temporal).toFixed(0)} MB`);
  const budget = WORKER_CACHE.memoryMb ? `budget ${WORKER_CACHE.memoryMb} MB` : 'target <= 6144';
  stack.pids().workers.forEach((pid, i) => say(`peak RSS, worker-${i + 1}                      ${peakRssMb(pid).toFixed(0)} MB   (${budget}; cases kept in memory: ${WORKER_CACHE.cache.cases})`));
  say(`the workers' caches                    ${cacheFit()}`);
  say(`peak RSS, API                          ${peakRssMb(stack.pids().apis[0]).toFixed(0)} MB`);
  say(`Postgres databases                     ${sizes.map((r) => `${r.datname} ${r.mb} MB`).join(', ')}`);
  cpuLines(`opening ${CASES} cases`, openCpu, openWorkerCpu, CASES);
  cpuLines('fan-out until verify clean', fanoutCpu, fanoutWorkerCpu, CASES);
  await stack.stop();
}

main().catch(abort);
