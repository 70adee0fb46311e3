import { request } from 'node:http';
import os from 'node:os';
import { type VerifyReport } from '../api/ops/report';
import { createPolicyRegistry } from '../policies/registry';
import { abort, benchOptions, cpuDelta, type CpuSeconds, cpuUsed, peakRssMb, say, sleep, startBenchStack } from './support';
import { measureParts, PAGE_SIZE, seconds } from './verify/parts';
import { buildPopulation, NATIONAL, REGIONAL } from './verify/population';

/**
 * npm run bench:verify -- [--cases 100000] [--runs 3] [--concurrency 64] [--stale 0]
 *
 * How long `ops verify` (GET /api/v1/ops/verify) takes over N cases (issue #22: within 2 minutes at 100,000).
 * Opening N cases through a worker takes over an hour on two cores, so the population is built directly, in a
 * way that leaves verify all its real work: N case workflows are started on a task queue no worker polls
 * (none of their tasks runs, nothing is replayed), each with the search attributes its first task would
 * publish (CaseRevision, CaseFingerprint, PolicyRevisions ...) for a timeline computed here by the engine's
 * own computeTimeline; each case's read-model row is written by the worker's own writeCaseSnapshots with the
 * run id the start returned. Rows and visibility then agree exactly, verify must answer ok, and it lists,
 * reads, fingerprints and compares every case. Two policies are in the registry (one national, one
 * regional) and the cases in their scope hold them, so the per-policy counts and case_policies are checked
 * over real rows.
 *
 * Then verify is called `runs` times through the API (its own production process), each with its wall time
 * and the CPU seconds of each process; and its parts are timed from outside, one at a time, as verify runs
 * them: visibility's listing, the rows' read from Postgres, the check of each row against its own timeline,
 * the case_policies statement, and the per-policy counts.
 *
 * `--stale N` then sets N rows, spread evenly over the cases, one revision behind their case and times one more
 * verify, which must report them: each is a candidate verify confirms by asking the case (describe, then the
 * readModelSnapshot query under its deadline), which here no worker answers. The rows are put back after.
 */
const USAGE = `usage: npm run bench:verify -- [--cases 100000] [--runs 3] [--concurrency 64] [--stale 0]

  --cases N         case workflows and read-model rows (default 100000)
  --runs N          verify calls timed (default 3)
  --concurrency N   workflow starts in flight while the cases are built (default 64)
  --stale N         then N rows, spread over the cases, set one revision behind, and one more verify timed
                    (default 0: none)`;
const options = benchOptions('bench:verify', USAGE, { cases: 100_000, runs: 3, concurrency: 64, stale: 0 });
const CASES = options.cases;

/** GET with no client-side timeout (fetch's headers timeout is 300 s, and verify may take longer than that). */
function get(url: string, key: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { authorization: `Bearer ${key}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const load = () => os.loadavg().map((l) => l.toFixed(2)).join(', ');

async function main(): Promise<void> {
  say(`Load (1, 5, 15 min) before: ${load()}`);
  // No worker: nothing polls the case task queue, so no case task runs and nothing is replayed.
  const stack = await startBenchStack({ temporal: true, workers: 0 });
  const registry = createPolicyRegistry(stack.db);
  await stack.db.transaction(async (tx) => {
    for (const policy of [NATIONAL, ...REGIONAL]) await registry.insert(tx, policy);
  });

  say(`Building ${CASES} cases (workflows on an unpolled task queue, rows by writeCaseSnapshots) ...`);
  let cpu = stack.cpuSeconds();
  const buildSeconds = await buildPopulation(stack, CASES, options.concurrency);
  say(`  ${CASES} cases listed by visibility after ${buildSeconds.toFixed(1)} s; CPU seconds: ${cpuUsed(cpu, stack.cpuSeconds())}`);
  const [sizes] = await stack.db.query<{ rows: string; deadlines: string; case_policies: string; avg_timeline: string; table: string }>(
    `SELECT (SELECT count(*) FROM cases) AS rows, (SELECT count(*) FROM deadlines) AS deadlines, (SELECT count(*) FROM case_policies) AS case_policies,
            (SELECT round(avg(pg_column_size(timeline))) FROM cases) AS avg_timeline, pg_size_pretty(pg_total_relation_size('cases')) AS table`,
  );
  say(`  read model: ${sizes!.rows} cases (${sizes!.table}, timeline ${sizes!.avg_timeline} bytes on average as stored), ${sizes!.deadlines} deadlines, ${sizes!.case_policies} case_policies rows`);
  // As autovacuum leaves a table that has settled; the verify runs then do not race it.
  await stack.db.query('VACUUM ANALYZE');
  await sleep(5_000);

  const runs: { seconds: number; cpu: CpuSeconds; report: VerifyReport }[] = [];
  for (let run = 1; run <= options.runs; run++) {
    say(`Verify ${run} of ${options.runs} (GET /api/v1/ops/verify) ...`);
    cpu = stack.cpuSeconds();
    const t = performance.now();
    const res = await get(`${stack.api}/api/v1/ops/verify`, stack.keys.ops);
    const took = seconds(t);
    const used = cpuDelta(cpu, stack.cpuSeconds());
    if (res.status !== 200) throw new Error(`verify answered ${res.status}: ${res.body.slice(0, 2000)}`);
    const report = JSON.parse(res.body) as VerifyReport;
    runs.push({ seconds: took, cpu: used, report });
    say(`  ${took.toFixed(1)} s: ok ${report.ok}, cases ${report.readModel.cases}; CPU seconds: ${cpuUsed(cpu, stack.cpuSeconds())}`);
    if (!report.ok || report.readModel.cases !== CASES) {
      // The population agrees with visibility by construction: a verify that says otherwise is a finding.
      process.exitCode = 1;
      const { sample, ...counts } = report.readModel;
      say(`  NOT CLEAN: readModel ${JSON.stringify(counts)}`);
      say(`  readModel sample ${JSON.stringify(sample)}`);
      say(`  policies ${JSON.stringify(report.policies)}`);
      say(`  casePolicies ${JSON.stringify(report.casePolicies)}, pending fan-outs ${JSON.stringify(report.pendingFanouts)}, dead ${JSON.stringify(report.deadFanouts)}`);
    }
  }

  say('Verify\'s parts, each alone from this process ...');
  cpu = stack.cpuSeconds();
  const parts = await measureParts(stack);
  say(`  CPU seconds: ${cpuUsed(cpu, stack.cpuSeconds())}`);

  let staleRun: { seconds: number; behind: number; cpu: string } | undefined;
  if (options.stale > 0) {
    const ids = Array.from({ length: Math.min(options.stale, CASES) }, (_, k) => `BV-${Math.floor((k * CASES) / Math.min(options.stale, CASES))}`);
    await stack.db.query('UPDATE cases SET revision = revision - 1 WHERE case_id = ANY($1)', [ids]);
    say(`Verify with ${ids.length} rows one revision behind, spread over the cases ...`);
    cpu = stack.cpuSeconds();
    const t = performance.now();
    const res = await get(`${stack.api}/api/v1/ops/verify`, stack.keys.ops);
    const took = seconds(t);
    const report = JSON.parse(res.body) as VerifyReport;
    staleRun = { seconds: took, behind: report.readModel.behind, cpu: cpuUsed(cpu, stack.cpuSeconds()) };
    say(`  ${took.toFixed(1)} s: ok ${report.ok}, behind ${report.readModel.behind} of ${ids.length}; CPU seconds: ${staleRun.cpu}`);
    await stack.db.query('UPDATE cases SET revision = revision + 1 WHERE case_id = ANY($1)', [ids]);
  }

  const times = runs.map((r) => r.seconds);
  const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  const avg = (k: keyof CpuSeconds) => (runs.reduce((s, r) => s + r.cpu[k], 0) / runs.length).toFixed(1);
  say('');
  const line = (label: string, value: string) => say(`${label.padEnd(62)} ${value}`);
  line('cases', `${CASES}   (built in ${buildSeconds.toFixed(1)} s, ${(CASES / buildSeconds).toFixed(0)} a second)`);
  line('verify, seconds per call', `${times.map((s) => s.toFixed(1)).join(', ')}   (median ${median.toFixed(1)}; target: within 120 s at 100,000)`);
  line('verify, answers', runs.map((r) => `ok ${r.report.ok}, cases ${r.report.readModel.cases}`).join('; '));
  line('verify, CPU seconds per call (mean)', `API ${avg('api')}, Temporal ${avg('temporal')}, Postgres ${avg('postgres')}`);
  if (staleRun) line(`verify with ${options.stale} rows behind, seconds`, `${staleRun.seconds.toFixed(1)}   (reported behind: ${staleRun.behind})`);
  line('API peak memory (RSS)', `${peakRssMb(stack.pids().apis[0]).toFixed(0)} MB`);
  say('verify\'s parts, each alone from this process, seconds:');
  line('  per-policy counts (2 countWorkflowExecutions)', parts.policyCounts.toFixed(2));
  line(`  visibility listing (${parts.pages} pages of ${PAGE_SIZE}, ${parts.listed} runs)`, parts.listing.toFixed(2));
  line('    a page of 1,000, mean of the first ten and of the last ten', `${parts.firstPages.toFixed(3)}, ${parts.lastPages.toFixed(3)}`);
  line('    every tenth page (pages 1, 11, 21 ...)', parts.pageTimes.filter((_, i) => i % 10 === 0).map((x) => x.toFixed(3)).join(' '));
  line(`  rows read from Postgres (${parts.pages} statements)`, parts.rows.toFixed(2));
  line('  rows checked (snapshotRow and compare)', `${parts.check.toFixed(2)}   (${parts.mismatched} mismatched)`);
  line('    the fingerprints alone (canonical JSON, SHA-256)', parts.fingerprint.toFixed(2));
  line('      their canonical JSON alone', parts.canonical.toFixed(2));
  line('      SHA-256 of the same texts by node:crypto (not @noble)', parts.nodeSha256.toFixed(2));
  line('  case_policies statements (counts, then sample)', `${parts.casePolicies.toFixed(2)}   (counts: ${parts.casePolicyStatement.toFixed(2)})`);
  line('  sum', (parts.policyCounts + parts.listing + parts.rows + parts.check + parts.casePolicies).toFixed(2));
  say(`Load (1, 5, 15 min) after: ${load()}`);
  await stack.stop();
}

main().catch(abort);
