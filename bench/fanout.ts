import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DEV_SERVER_GO_ENV } from '../dev/dev-server';
import { defaultCaseCacheSize } from '../worker/worker';
import {
  abort,
  appliedCount,
  appliedPer5s,
  benchOptions,
  benchPolicy,
  countRows,
  cpuUsed,
  nodeArgsFrom,
  openCases,
  peakRssMb,
  publishPolicy,
  say,
  signalledCount,
  sleep,
  startBenchStack,
  untilVerifyClean,
} from './support';

/**
 * npm run bench:fanout -- --cases 10000 [--rate 2000] [--bare 0]
 *
 * Opens N cases, then measures in the same run against the same server: (1) publishing a policy through
 * the API until it has converged: `GET /api/v1/ops/verify` (what `npm run ops -- verify` prints) reports no
 * open case lacking it and no read-model row behind or ahead of its case; and (2) the bare server-side batch
 * signal (`temporal workflow signal --query ...`) of another policy until every case has applied it (the
 * read model's case_policies).
 * `--bare 0` skips (2), for quicker runs while tuning; the issue's figures need it.
 * BENCH_WORKER_NODE_ARGS passes flags to the worker's node, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
 */
const USAGE = `usage: npm run bench:fanout -- [--cases 10000] [--rate 2000] [--bare 0]

  --cases N   cases opened before the fan-out (default 10000)
  --rate N    the fan-out's bound on signals per second (default 2000)
  --bare 0    skip the bare batch signal and the ratio (default 1: run it)`;
const options = benchOptions('bench:fanout', USAGE, { cases: 10_000, rate: 2_000, bare: 1 });
const CASES = options.cases;
const RATE = options.rate;
const BARE = options.bare !== 0;

async function main(): Promise<void> {
  const stack = await startBenchStack({
    temporal: true,
    fanoutSignalsPerSecond: RATE,
    workerNodeArgs: nodeArgsFrom('BENCH_WORKER_NODE_ARGS'),
  });
  const { db } = stack;
  const count = (sql: string, params: unknown[] = []) => countRows(db, sql, params);

  say(`Opening ${CASES} cases ...`);
  const openSeconds = await openCases(stack, CASES);
  say(`  ${CASES} cases open and idle after ${openSeconds.toFixed(1)} s`);
  const policy = benchPolicy;
  const applied = (policyId: string) => appliedCount(db, policyId);

  say('Fan-out through the API ...');
  let cpu = stack.cpuSeconds();
  let started = Date.now();
  await publishPolicy(stack, policy('bench-fanout'));
  let signalledAt = 0;
  while ((await applied('bench-fanout')) < CASES) {
    if (!signalledAt && (await signalledCount(db, 'bench-fanout')) >= CASES) signalledAt = Date.now();
    // Counting costs Postgres too; four times a second keeps that small next to what is measured.
    await sleep(250);
  }
  const appliedSeconds = (Date.now() - started) / 1000;
  // The clock stops when verify reports nothing missing and nothing stale (each call lists every case).
  const verifyTimes = await untilVerifyClean(stack);
  const fanoutSeconds = (Date.now() - started) / 1000;
  const signalSeconds = ((signalledAt || Date.now()) - started) / 1000;
  while ((await count(`SELECT count(*) AS n FROM policy_fanouts WHERE policy_id = 'bench-fanout' AND status = 'completed'`)) === 0) await sleep(250);
  const completedSeconds = (Date.now() - started) / 1000;
  say(`  all ${CASES} cases applied it after ${appliedSeconds.toFixed(1)} s; verify clean after ${fanoutSeconds.toFixed(1)} s (all signalled after ${signalSeconds.toFixed(1)} s)`);
  const fanoutCpu = cpuUsed(cpu, stack.cpuSeconds());
  say(`  CPU seconds used: ${fanoutCpu}`);
  say(`  cases applied per 5 s: ${(await appliedPer5s(db, 'bench-fanout', started)).join(' ')}`);

  let bareSeconds = NaN;
  let bareCpu = '';
  if (BARE) {
    say('Bare batch signal (temporal workflow signal --query, encrypted through the codec server) ...');
    cpu = stack.cpuSeconds();
    started = Date.now();
    await promisify(execFile)(process.env.TEMPORAL_CLI_PATH!, [
      'workflow', 'signal', '--address', stack.address, '--namespace', 'default',
      '--query', `WorkflowType = 'caseWorkflow' AND ExecutionStatus = 'Running'`,
      '--name', 'policyChange', '--input', JSON.stringify(policy('bench-bare')), '--reason', 'benchmark', '--yes',
      // The worker refuses plaintext: the CLI encrypts through the codec server, as an operator's would.
      '--codec-endpoint', `${stack.api}/codec`, '--codec-auth', `Bearer ${stack.keys.reader}`,
    ]);
    while ((await applied('bench-bare')) < CASES) await sleep(250);
    bareSeconds = (Date.now() - started) / 1000;
    say(`  all ${CASES} cases applied it after ${bareSeconds.toFixed(1)} s`);
    bareCpu = cpuUsed(cpu, stack.cpuSeconds());
    say(`  CPU seconds used: ${bareCpu}`);
  }

  const fanoutRate = CASES / fanoutSeconds;
  const bareRate = CASES / bareSeconds;
  say('');
  say(`cases                                  ${CASES}`);
  say(`fan-out: seconds until all signalled   ${signalSeconds.toFixed(1)}`);
  say(`fan-out: seconds until all applied     ${appliedSeconds.toFixed(1)}`);
  say(`fan-out: seconds until verify clean    ${fanoutSeconds.toFixed(1)}   (the clock: nothing missing, nothing stale)`);
  say(`fan-out: seconds until it completed    ${completedSeconds.toFixed(1)}   (its own last count, a visibility lag after its last signal)`);
  say(`verify: calls, median ms per call      ${verifyTimes.length}, ${[...verifyTimes].sort((a, b) => a - b)[Math.floor(verifyTimes.length / 2)]}`);
  say(`fan-out: signals per second            ${fanoutRate.toFixed(0)}   (rate bound ${RATE}/s)`);
  if (BARE) {
    say(`bare batch: seconds until all applied  ${bareSeconds.toFixed(1)}`);
    say(`bare batch: signals per second         ${bareRate.toFixed(0)}`);
    say(`ratio fan-out / bare                   ${(fanoutRate / bareRate).toFixed(2)}   (target >= 0.8; 10,000 cases within 60 s)`);
  } else {
    say(`bare batch                             skipped (--bare 0); no ratio   (target: 10,000 cases within 60 s)`);
  }
  say(`Temporal peak memory (RSS)             ${peakRssMb(stack.pids().temporal).toFixed(0)} MB   (Go: ${Object.entries(DEV_SERVER_GO_ENV).map(([k, v]) => `${k}=${process.env[k] ?? v}`).join(' ')})`);
  say(`worker peak memory (RSS)               ${peakRssMb(stack.pids().workers[0]).toFixed(0)} MB   (cases kept in memory: ${process.env.WORKER_MAX_CACHED_WORKFLOWS ?? `${defaultCaseCacheSize()}, the default`})`);
  say(`CPU seconds, fan-out                   ${fanoutCpu}   (2 cores: at most ${(2 * fanoutSeconds).toFixed(0)})`);
  if (BARE) say(`CPU seconds, bare batch                ${bareCpu}`);
  await stack.stop();
}

main().catch(abort);
