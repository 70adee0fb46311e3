import { createHash } from 'node:crypto';
import { request } from 'node:http';
import os from 'node:os';
import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { type SearchAttributePair } from '@temporalio/common';
import { type CaseSnapshot, snapshotRow, writeCaseSnapshots } from '../activities/read-model';
import { CASE_POLICY_COUNTS, CASE_POLICY_SAMPLE, ROWS_OF_CASES, type VerifyReport } from '../api/convergence';
import { countMissingCases } from '../platform/convergence';
import { createPolicyRegistry } from '../platform/policy-registry';
import { addDays, copenhagenDate, endOfCopenhagenDay } from '../workflows/domain/dates';
import { canonicalJson, timelineFingerprint } from '../workflows/domain/fingerprint';
import { MUNICIPALITIES } from '../workflows/domain/municipalities';
import { ruleSetFor } from '../workflows/domain/rules';
import { computeTimeline } from '../workflows/domain/timeline';
import { type CaseEvent, type CaseFacts, type Employment, type PolicyRevision, type Timeline } from '../workflows/domain/types';
import { caseWorkflowId, type CaseWorkflowInput, policyKey } from '../workflows/messages';
import { CASE_RUNS_QUERY } from '../workflows/policy-queries';
import {
  CaseFingerprintKey,
  CaseIdKey,
  CaseRevisionKey,
  CaseStatusKey,
  CategoryKey,
  ConversationModeKey,
  MunicipalityKey,
  NextDeadlineKey,
  NextDeadlineKindKey,
  OverdueKey,
  PolicyIdsKey,
  PolicyRevisionsKey,
} from '../workflows/search-attributes';
import { abort, type BenchStack, benchOptions, cpuDelta, type CpuSeconds, cpuUsed, peakRssMb, say, sleep, startBenchStack } from './bench-support';

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
/** Rows written per statement, as the worker's group commit writes them at most. */
const WRITE_BATCH = 500;
/** Verify's own page size (api/convergence.ts). */
const PAGE_SIZE = 1_000;
const TODAY = copenhagenDate(Date.now());
const CODES = Object.keys(MUNICIPALITIES);

/** A national pause of follow-up conversations that has ended, held by every case. */
const NATIONAL: PolicyRevision = {
  policyId: 'bench-verify-national',
  revision: 1,
  title: 'Benchmark: follow-up conversations paused',
  effectiveFrom: addDays(TODAY, -150),
  effectiveTo: addDays(TODAY, -120),
  scope: { type: 'all' },
  effects: [{ type: 'pauseDeadlines', kinds: ['follow-up-conversation'] }],
};
/** Video conversations in one region since a month ago, held by that region's cases (revision 2 of 2). */
const REGIONAL: PolicyRevision[] = [1, 2].map((revision) => ({
  policyId: 'bench-verify-regional',
  revision,
  title: 'Benchmark: conversations by video',
  effectiveFrom: addDays(TODAY, -30),
  scope: { type: 'regions', regions: ['Hovedstaden'] },
  effects: [{ type: 'switchConversationMode', mode: 'video' as const, consentRequired: revision === 2 }],
}));
const REGIONAL_CODES = new Set(CODES.filter((c) => MUNICIPALITIES[c]!.region === 'Hovedstaden'));

/** A deterministic pseudo-random sequence per case, so every run builds the same cohort. */
function random(seed: number) {
  let x = (seed * 2_654_435_761) % 2_147_483_648;
  return () => ((x = (x * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
}

interface BuiltCase {
  caseId: string;
  input: CaseWorkflowInput;
  revision: number;
  timeline: Timeline;
}

/**
 * Case i: first absent up to 330 days ago, with what a case system reports of such a case (information form,
 * category, one or two conversations, a certificate), the national policy, and the regional one in its region.
 * Its change counter is what the workflow would count: its start, each event and each policy revision applied.
 */
function buildCase(i: number): BuiltCase {
  const rnd = random(i + 1);
  const caseId = `BV-${i}`;
  const F = addDays(TODAY, -Math.floor(rnd() * 330));
  const r = rnd();
  const employment: Employment = r < 0.9 ? 'employee' : r < 0.97 ? 'unemployed' : 'self-employed';
  const facts: CaseFacts = { caseId, citizenRef: `REF-${i}`, municipality: CODES[i % CODES.length]!, firstAbsenceDay: F, employment };
  const events: CaseEvent[] = [];
  if (rnd() < 0.8) events.push({ eventId: 'form', type: 'information-form-received', occurredOn: addDays(F, 3 + Math.floor(rnd() * 20)) });
  events.push({ eventId: 'cat', type: 'categorized', occurredOn: addDays(F, 10 + Math.floor(rnd() * 10)), category: rnd() < 0.2 ? 3 : rnd() < 0.2 ? 1 : 2 });
  if (rnd() < 0.3) {
    events.push({ eventId: 'cert-req', type: 'certificate-requested', occurredOn: addDays(F, 20) });
    events.push({ eventId: 'cert', type: 'certificate-received', occurredOn: addDays(F, 28 + Math.floor(rnd() * 10)) });
  }
  const mode = () => (rnd() < 0.6 ? 'in-person' : rnd() < 0.7 ? 'phone' : 'video');
  if (rnd() < 0.85) events.push({ eventId: 'c1', type: 'conversation-held', occurredOn: addDays(F, 35 + Math.floor(rnd() * 40)), mode: mode() });
  if (rnd() < 0.5) events.push({ eventId: 'c2', type: 'conversation-held', occurredOn: addDays(F, 95 + Math.floor(rnd() * 30)), mode: mode() });
  const happened = events.filter((e) => e.occurredOn <= TODAY);
  const policies = REGIONAL_CODES.has(facts.municipality) ? [NATIONAL, ...REGIONAL] : [NATIONAL];
  const ruleSet = ruleSetFor(F);
  const timeline = computeTimeline(facts, happened, policies, ruleSet, TODAY);
  const revision = 1 + happened.length + policies.length;
  return { caseId, input: { facts, ruleSetId: ruleSet.id, events: happened, policies, revision }, revision, timeline };
}

/** The search attributes the case's task would publish (workflows/case-workflow.ts, publish), unset ones left out. */
function searchAttributes(c: BuiltCase): SearchAttributePair[] {
  const t = c.timeline;
  const next = t.deadlines.find((d) => (d.status === 'pending' || d.status === 'paused') && d.dueDate !== null);
  const newest = new Map<string, number>();
  for (const p of t.policies) newest.set(p.policyId, Math.max(newest.get(p.policyId) ?? 0, p.revision));
  const policyIds = t.policies.filter((p) => p.state !== 'superseded').map((p) => p.policyId);
  const pairs: (SearchAttributePair | null)[] = [
    { key: CaseIdKey, value: c.caseId },
    { key: MunicipalityKey, value: t.municipality },
    { key: CaseStatusKey, value: t.status },
    t.category === null ? null : { key: CategoryKey, value: String(t.category) },
    next?.dueDate ? { key: NextDeadlineKey, value: new Date(endOfCopenhagenDay(next.dueDate)) } : null,
    next ? { key: NextDeadlineKindKey, value: next.kind } : null,
    { key: ConversationModeKey, value: t.conversationMode },
    { key: OverdueKey, value: t.deadlines.some((d) => d.status === 'missed') },
    policyIds.length > 0 ? { key: PolicyIdsKey, value: policyIds } : null,
    newest.size > 0 ? { key: PolicyRevisionsKey, value: [...newest].map(([policyId, revision]) => policyKey({ policyId, revision })).sort() } : null,
    { key: CaseRevisionKey, value: c.revision },
    { key: CaseFingerprintKey, value: timelineFingerprint(t) },
  ];
  return pairs.filter((p): p is SearchAttributePair => p !== null);
}

/** Starts the case's workflow on the unpolled queue; its run id. A start the server did not answer is tried again. */
async function startCase(client: Client, taskQueue: string, c: BuiltCase): Promise<string> {
  const workflowId = caseWorkflowId(c.caseId);
  for (let attempt = 1; ; attempt++) {
    try {
      const handle = await client.workflow.start('caseWorkflow', { workflowId, taskQueue, args: [c.input], typedSearchAttributes: searchAttributes(c) });
      return handle.firstExecutionRunId;
    } catch (err) {
      // The first attempt did land: the run is there.
      if (attempt > 1 && err instanceof WorkflowExecutionAlreadyStartedError) return (await client.workflow.getHandle(workflowId).describe()).runId;
      if (attempt >= 10) throw err;
      say(`  starting ${c.caseId} failed (${(err as Error).message}); trying again (attempt ${attempt + 1})`);
      await sleep(1_000 * attempt);
    }
  }
}

/** Case runs that verify lists (the same query). */
async function listedRuns(client: Client): Promise<number> {
  return Number((await client.workflowService.countWorkflowExecutions({ namespace: 'default', query: CASE_RUNS_QUERY })).count);
}

/**
 * Builds the N cases: each is computed, started and its row written (in batches of WRITE_BATCH, as the worker
 * writes them) with `concurrency` starts in flight. Returns the seconds until visibility lists all N.
 */
async function buildPopulation(stack: BenchStack): Promise<number> {
  const began = Date.now();
  let next = 0;
  let started = 0;
  let written = 0;
  let pending: CaseSnapshot[] = [];
  let writes: Promise<void> = Promise.resolve();
  let queued = 0;
  const flush = () => {
    const batch = pending;
    pending = [];
    queued++;
    writes = writes.then(async () => {
      await writeCaseSnapshots(stack.db, batch);
      written += batch.length;
      queued--;
    });
  };
  const progress = setInterval(() => {
    const s = (Date.now() - began) / 1000;
    say(`  ${s.toFixed(0)} s: ${started} started (${(started / s).toFixed(0)} a second), ${written} rows written`);
  }, 15_000);
  try {
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (next < CASES) {
          const c = buildCase(next++);
          const runId = await startCase(stack.client, stack.taskQueue, c);
          started++;
          pending.push({ workflowId: caseWorkflowId(c.caseId), runId, revision: c.revision, timeline: c.timeline });
          if (pending.length >= WRITE_BATCH) flush();
          // The writes keep up with the starts; if they do not, the starts wait rather than hold every snapshot.
          while (queued > 4) await writes;
        }
      }),
    );
    if (pending.length > 0) flush();
    await writes;
    say(`  ${CASES} started and their rows written after ${((Date.now() - began) / 1000).toFixed(1)} s; waiting for visibility ...`);
    while ((await listedRuns(stack.client)) < CASES) await sleep(1_000);
  } finally {
    clearInterval(progress);
  }
  return (Date.now() - began) / 1000;
}

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

const seconds = (sinceMs: number) => (performance.now() - sinceMs) / 1000;


interface Parts {
  listing: number;
  pages: number;
  rows: number;
  check: number;
  fingerprint: number;
  /** Of the fingerprints: the canonical JSON alone, and the same texts hashed by node:crypto instead of @noble/hashes. */
  canonical: number;
  nodeSha256: number;
  /** Mean seconds of a listing page among the first and the last ten, and of every tenth page (its depth). */
  firstPages: number;
  lastPages: number;
  pageTimes: number[];
  casePolicies: number;
  casePolicyStatement: number;
  policyCounts: number;
  listed: number;
  mismatched: number;
}

/**
 * Verify's parts, each timed alone from this process, in the order verify runs them: the per-policy counts
 * (countWorkflowExecutions per newest revision); visibility's listing (1,000 runs a page, the same query, the
 * search attributes decoded); the rows of each page read from Postgres (the same statement); each row checked
 * against its own timeline (snapshotRow, which fingerprints it) and against the listed run; the fingerprints
 * alone, of the same timelines (and their canonical JSON alone, and the same texts hashed by node:crypto, which
 * gives the same digest: the API could use it, workflow code cannot); and the case_policies statements (counts,
 * then a sample over the same CTEs).
 */
async function measureParts(stack: BenchStack): Promise<Parts> {
  const { client, db } = stack;
  let t = performance.now();
  for (const policy of [NATIONAL, REGIONAL[1]!]) await countMissingCases(client, policy);
  const policyCounts = seconds(t);

  const pages: { caseId: string; runId: string; revision: number; fingerprint: string }[][] = [];
  const pageTimes: number[] = [];
  t = performance.now();
  let token: Uint8Array | undefined;
  do {
    const pageStarted = performance.now();
    const page = await client.workflowService.listWorkflowExecutions({ namespace: 'default', query: CASE_RUNS_QUERY, pageSize: PAGE_SIZE, nextPageToken: token });
    pages.push(
      (page.executions ?? []).map((e) => {
        const fields = e.searchAttributes?.indexedFields ?? {};
        const decode = (name: string) => JSON.parse(Buffer.from(fields[name]!.data!).toString('utf8')) as unknown;
        return { caseId: decode(CaseIdKey.name) as string, runId: e.execution!.runId!, revision: decode(CaseRevisionKey.name) as number, fingerprint: decode(CaseFingerprintKey.name) as string };
      }),
    );
    token = page.nextPageToken && page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
    pageTimes.push(seconds(pageStarted));
  } while (token);
  const listing = seconds(t);

  let rows = 0;
  let check = 0;
  let fingerprint = 0;
  let canonical = 0;
  let nodeSha256 = 0;
  let mismatched = 0;
  for (const page of pages) {
    t = performance.now();
    const read = await db.query<{ case_id: string; workflow_id: string; revision: number; run_id: string; fingerprint: string; timeline: Timeline } & Record<string, unknown>>(ROWS_OF_CASES, [
      page.map((r) => r.caseId),
    ]);
    rows += seconds(t);
    t = performance.now();
    const byId = new Map(read.map((r) => [r.case_id, r]));
    for (const run of page) {
      const row = byId.get(run.caseId);
      const expected = row && (snapshotRow({ workflowId: row.workflow_id, revision: row.revision, timeline: row.timeline }) as unknown as Record<string, unknown>);
      const intact = row && ['municipality', 'first_absence_day', 'status', 'category', 'conversation_mode', 'next_deadline', 'next_deadline_kind', 'overdue', 'closed_on', 'fingerprint'].every((k) => (expected![k] ?? null) === (row[k] ?? null));
      if (!row || !intact || row.run_id !== run.runId || row.revision !== run.revision || row.fingerprint !== run.fingerprint) mismatched++;
    }
    check += seconds(t);
    t = performance.now();
    for (const row of read) timelineFingerprint(row.timeline);
    fingerprint += seconds(t);
    t = performance.now();
    const texts = read.map((row) => canonicalJson(row.timeline));
    canonical += seconds(t);
    t = performance.now();
    for (const text of texts) createHash('sha256').update(text).digest('hex').slice(0, 32);
    nodeSha256 += seconds(t);
  }

  t = performance.now();
  await db.query(CASE_POLICY_COUNTS);
  const casePolicyStatement = seconds(t);
  t = performance.now();
  await db.query(CASE_POLICY_SAMPLE, [20]);
  const casePolicies = casePolicyStatement + seconds(t);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const full = pageTimes.filter((_, i) => pages[i]!.length === PAGE_SIZE);
  return {
    listing,
    pages: pages.length,
    listed: pages.reduce((n, p) => n + p.length, 0),
    firstPages: mean(full.slice(0, 10)),
    lastPages: mean(full.slice(-10)),
    pageTimes: full,
    rows,
    check,
    mismatched,
    fingerprint,
    canonical,
    nodeSha256,
    casePolicies,
    casePolicyStatement,
    policyCounts,
  };
}

const load = () => os.loadavg().map((l) => l.toFixed(2)).join(', ');

async function main(): Promise<void> {
  say(`Load (1, 5, 15 min) before: ${load()}`);
  // No worker: nothing polls the case task queue, so no case task runs and nothing is replayed.
  const stack = await startBenchStack({ temporal: true, workers: 0, apiProcess: true });
  const registry = createPolicyRegistry(stack.db);
  await stack.db.transaction(async (tx) => {
    for (const policy of [NATIONAL, ...REGIONAL]) await registry.insert(tx, policy);
  });

  say(`Building ${CASES} cases (workflows on an unpolled task queue, rows by writeCaseSnapshots) ...`);
  let cpu = stack.cpuSeconds();
  const buildSeconds = await buildPopulation(stack);
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
  line('API peak memory (RSS)', `${peakRssMb(stack.apiPid).toFixed(0)} MB`);
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
