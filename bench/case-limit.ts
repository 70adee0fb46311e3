import http from 'node:http';
import os from 'node:os';
import { timelineSvg } from '../api/timeline-svg';
import { describe as caseDetails } from '../workflows/case-details';
import { addDays, copenhagenDate } from '../workflows/domain/dates';
import { ruleSetFor } from '../workflows/domain/rules';
import { computeTimeline } from '../workflows/domain/timeline';
import { type CaseEvent, type CaseFacts } from '../workflows/domain/types';
import { CASE_LIMITS, rejectEvent } from '../workflows/domain/validate-event';
import { caseWorkflowId, type CaseWorkflowInput, readModelSnapshotQuery } from '../workflows/messages';
import { caseStartSearchAttributes } from '../workflows/search-attributes';
import { abort, type BenchStack, benchOptions, cpuUsed, percentile, say, sleep, startBenchStack } from './support';

/**
 * npm run bench:case-limit -- [--at-limit 10] [--others 8] [--samples 200] [--hammerers 4] [--workers 1] [--topology dev]
 *
 * A case at its limits (CASE_LIMITS, issue #23) against a real stack: the API as its own process, Temporal, a
 * production worker and Postgres, started here. It prints
 * - the engine, the details, the picture and the event check at 125 to 4,000 events (this process, no stack),
 *   so their growth can be read off: at most n log n;
 * - one case filled through the API by `--hammerers` requests at a time until it refuses: every status, and
 *   the runs it continued as new under that load;
 * - the answer to one more event at the limit: the event that fills a case (`--at-limit` cases started one
 *   event short of it), the refusal of the next (409 naming the limit) and the event that ends a full case;
 *   target: each within 200 ms;
 * - other cases' events, one at a time, with nobody else busy, then while `--hammerers` loops post to as many
 *   ordinary cases (the load any busy hour brings), to one full case, and to one case filling up from 300
 *   events: p50 and p99 of each;
 * - whether every case's read-model row reached its case's revision, and ops verify's answer.
 */
const USAGE = `usage: npm run bench:case-limit -- [--at-limit 10] [--others 8] [--samples 200] [--hammerers 4] [--workers 1] [--topology dev]

  --at-limit N    cases started one event short of the limit, each sent the event that fills it (default 10)
  --others N      other cases whose events are timed while one case is hammered (default 8)
  --samples N     other cases' events timed in each phase (default 200)
  --hammerers N   requests in flight at once against the hammered case (default 4)
  --workers N     worker processes (default 1)
  --topology T    dev (the Temporal CLI's dev server, default) or cluster (the Temporal server on Postgres)`;
const options = benchOptions('bench:case-limit', USAGE, { 'at-limit': 10, others: 8, samples: 200, hammerers: 4, workers: 1 }, ['topology']);
if (options.topology !== undefined && options.topology !== 'dev' && options.topology !== 'cluster') {
  process.stderr.write(`bench:case-limit: --topology must be dev or cluster, not '${options.topology}'\n${USAGE}\n`);
  process.exit(2);
}
const topology: 'dev' | 'cluster' = options.topology ?? 'dev';
const MAX = CASE_LIMITS.maxEventsPerCase;
const TARGET_MS = 200;

const today = copenhagenDate(Date.now());
const F = addDays(today, -300);
const factsOf = (caseId: string): CaseFacts => ({ caseId, citizenRef: `REF-${caseId}`, municipality: '101', firstAbsenceDay: F, employment: 'employee' });
/** Certificate requests: each makes a deadline, the event a case system can send most of. */
const request = (eventId: string, i: number): CaseEvent => ({ eventId, type: 'certificate-requested', occurredOn: addDays(F, i % 290) });
const requests = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => request(`${prefix}-${i}`, i));

const ms = (values: number[]) => `p50 ${percentile(values, 50).toFixed(0)} ms, p99 ${percentile(values, 99).toFixed(0)} ms, max ${Math.max(...values).toFixed(0)} ms (${values.length})`;

/** A case system's HTTP client: keep-alive connections, node:http (less of this process's CPU than fetch). */
function apiClient(stack: BenchStack, sockets: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  const call = (method: string, path: string, body?: unknown) =>
    new Promise<{ status: number; json: { error?: { code: string; message: string; details: unknown } } & Record<string, unknown>; ms: number }>((resolve, reject) => {
      const text = body === undefined ? undefined : JSON.stringify(body);
      const began = performance.now();
      const req = http.request(
        new URL(`${stack.api}${path}`),
        {
          method,
          agent,
          headers: {
            authorization: `Bearer ${stack.keys['case-system']}`,
            ...(text ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString() || '{}'), ms: performance.now() - began }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(text);
    });
  return {
    open: async (caseId: string) => {
      const res = await call('POST', '/api/v1/cases', factsOf(caseId));
      if (res.status !== 201) throw new Error(`opening ${caseId}: ${res.status} ${JSON.stringify(res.json)}`);
    },
    event: (caseId: string, event: CaseEvent) => call('POST', `/api/v1/cases/${caseId}/events`, event),
    close: () => agent.destroy(),
  };
}
type Api = ReturnType<typeof apiClient>;

/** Starts cases with their events through the bare client (as a case continued as new carries them), and waits for their rows. */
async function startWithEvents(stack: BenchStack, cases: { caseId: string; events: CaseEvent[] }[]): Promise<void> {
  for (const { caseId, events } of cases) {
    const input: CaseWorkflowInput = { facts: factsOf(caseId), events, policies: [] };
    await stack.client.workflow.start('caseWorkflow', {
      workflowId: caseWorkflowId(caseId),
      taskQueue: stack.taskQueue,
      args: [input],
      typedSearchAttributes: caseStartSearchAttributes(caseId, '101'),
    });
  }
  const ids = cases.map((c) => c.caseId);
  while (Number((await stack.db.query<{ n: string }>('SELECT count(*) AS n FROM cases WHERE case_id = ANY($1)', [ids]))[0]!.n) < ids.length) await sleep(200);
}

/** The engine's functions on one case of n certificate requests: milliseconds a call, best of five. */
function enginePhase(): void {
  const facts = factsOf('ENGINE');
  const ruleSet = ruleSetFor(F);
  say('Engine, details, picture and event check on one case (this process, best of 5 calls; ms, and µs an event):');
  say('  events  deadlines   timeline          details           picture           event check');
  for (const n of [125, 250, 500, 1000, 2000, 4000]) {
    const events = requests('e', n);
    const timeline = computeTimeline(facts, events, [], ruleSet, today);
    const best = (f: () => unknown) => {
      let least = Infinity;
      for (let k = 0; k < 5; k++) {
        const began = performance.now();
        f();
        least = Math.min(least, performance.now() - began);
      }
      return `${least.toFixed(2).padStart(7)} (${((least * 1000) / n).toFixed(1).padStart(4)})`;
    };
    // Past the limit the check refuses at once; the engine's own cost is what is timed here, so limits are off.
    const check = () => rejectEvent(facts, events, [], ruleSet, request('next', n), today, { limits: n < MAX });
    say(
      `  ${String(n).padStart(6)}  ${String(timeline.deadlines.length).padStart(9)}  ${best(() => computeTimeline(facts, events, [], ruleSet, today))}  ${best(() => caseDetails(timeline))}  ${best(() => timelineSvg(timeline))}  ${best(check)}`,
    );
  }
}

/** Fills one case through the API, `hammerers` requests at a time, until it refuses; returns the refusal. */
async function fillPhase(stack: BenchStack, api: Api, hammerers: number): Promise<void> {
  say('');
  say(`Filling case FILL through the API, ${hammerers} requests at a time, until it refuses ...`);
  await api.open('FILL');
  const statuses = new Map<string, number>();
  const latencies: number[] = [];
  let next = 0;
  let refused = 0;
  const began = Date.now();
  await Promise.all(
    Array.from({ length: hammerers }, async () => {
      while (refused < hammerers) {
        const i = next++;
        const res = await api.event('FILL', request(`fill-${i}`, i));
        const key = `${res.status}${res.json.error ? ` ${res.json.error.code}` : ''}`;
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        if (res.status === 200) latencies.push(res.ms);
        else refused++;
      }
    }),
  );
  say(`  ${next} requests in ${((Date.now() - began) / 1000).toFixed(1)} s: ${[...statuses].map(([k, n]) => `${n} × ${k}`).join(', ')}`);
  say(`  applied events, the last 50:             ${ms(latencies.slice(-50))}`);
  const handle = stack.client.workflow.getHandle(caseWorkflowId('FILL'));
  const described = await handle.describe();
  const runs = await stack.client.workflow.count(`WorkflowId = '${caseWorkflowId('FILL')}'`);
  say(`  runs (continued as new under the load): ${runs.count}; the current one's history ${described.historyLength} events, ${((described.historySize ?? 0) / 1e6).toFixed(1)} MB`);
}

/** One more event at the limit: the event that fills a case, the refusal of the next, and the event that ends a full case. */
async function atLimitPhase(stack: BenchStack, api: Api, cases: number): Promise<void> {
  say('');
  say(`Starting ${cases} cases with ${MAX - 1} events each (bare client), and one with ${MAX} ...`);
  await startWithEvents(stack, [
    ...Array.from({ length: cases }, (_, c) => ({ caseId: `LAST-${c}`, events: requests(`last-${c}`, MAX - 1) })),
    { caseId: 'FULL', events: requests('full', MAX) },
  ]);
  const filling: number[] = [];
  for (let c = 0; c < cases; c++) {
    const res = await api.event(`LAST-${c}`, request(`last-${c}-${MAX - 1}`, MAX - 1));
    if (res.status !== 200 || res.json.applied !== true) throw new Error(`LAST-${c}: the ${MAX}th event was not applied: ${res.status} ${JSON.stringify(res.json.error)}`);
    filling.push(res.ms);
  }
  const refusals: number[] = [];
  let refusal: { code: string; message: string; details: unknown } | undefined;
  for (let k = 0; k < 50; k++) {
    const res = await api.event('FULL', request(`full-more-${k}`, k));
    if (res.status !== 409 || res.json.error?.code !== 'case-limit-reached') throw new Error(`FULL: expected 409 case-limit-reached, got ${res.status} ${JSON.stringify(res.json)}`);
    refusal = res.json.error;
    refusals.push(res.ms);
  }
  const ending: number[] = [];
  for (let c = 0; c < cases; c++) {
    const res = await api.event(`LAST-${c}`, { eventId: `last-${c}-recovered`, type: 'recovered', occurredOn: today });
    if (res.status !== 200 || res.json.status !== 'closed') throw new Error(`LAST-${c}: recovered was not applied: ${res.status} ${JSON.stringify(res.json.error)}`);
    ending.push(res.ms);
  }
  say(`  the ${MAX}th event, applied (${MAX - 1} -> ${MAX}):   ${ms(filling)}   (target <= ${TARGET_MS} ms)`);
  say(`  one more, refused 409:                ${ms(refusals)}   (target <= ${TARGET_MS} ms)`);
  say(`    ${JSON.stringify(refusal)}`);
  say(`  recovered, applied to a full case:    ${ms(ending)}   (target <= ${TARGET_MS} ms)`);
}

/**
 * Other cases' events, one at a time, round robin: `samples` of them while `hammer` runs (or with nobody else
 * busy when it is null). Returns their latencies and what the hammer's requests got.
 */
async function othersWhile(api: Api, others: string[], samples: number, round: { n: number }, hammer: ((stop: () => boolean) => Promise<Map<string, number>>) | null) {
  let done = false;
  const hammering = hammer ? hammer(() => done) : Promise.resolve(new Map<string, number>());
  // Let the hammer reach its pace before timing.
  if (hammer) await sleep(1_000);
  const latencies: number[] = [];
  for (let k = 0; k < samples; k++) {
    const caseId = others[k % others.length]!;
    const i = round.n++;
    const res = await api.event(caseId, request(`other-${i}`, i));
    if (res.status !== 200) throw new Error(`${caseId}: ${res.status} ${JSON.stringify(res.json.error)}`);
    latencies.push(res.ms);
  }
  done = true;
  return { latencies, hammer: await hammering };
}

/** `hammerers` loops posting events to the cases named, one case each in turn, until stopped. */
function hammerOn(api: Api, caseIds: string[], hammerers: number, from: number) {
  return async (stop: () => boolean) => {
    const statuses = new Map<string, number>();
    let next = from;
    await Promise.all(
      Array.from({ length: hammerers }, async (_, h) => {
        const caseId = caseIds[h % caseIds.length]!;
        while (!stop()) {
          const i = next++;
          const res = await api.event(caseId, request(`${caseId}-${i}`, i));
          const key = `${res.status}${res.json.error ? ` ${res.json.error.code}` : ''}`;
          statuses.set(key, (statuses.get(key) ?? 0) + 1);
        }
      }),
    );
    return statuses;
  };
}

async function isolationPhase(stack: BenchStack, api: Api, others: number, samples: number, hammerers: number): Promise<void> {
  say('');
  const ids = Array.from({ length: others }, (_, c) => `OTHER-${c}`);
  const busy = Array.from({ length: hammerers }, (_, c) => `BUSY-${c}`);
  say(`Starting ${others} other cases and ${hammerers} busy ones with 20 events each, a full case HAMMER-FULL and a case HAMMER-GROW of 300 events ...`);
  await startWithEvents(stack, [
    ...[...ids, ...busy].map((caseId) => ({ caseId, events: requests(caseId, 20) })),
    { caseId: 'HAMMER-FULL', events: requests('HAMMER-FULL', MAX) },
    { caseId: 'HAMMER-GROW', events: requests('HAMMER-GROW', 300) },
  ]);
  const round = { n: 100 };
  // Warm-up, not timed: each other case once.
  await othersWhile(api, ids, others, round, null);

  const counts = (m: Map<string, number>) => [...m].map(([k, n]) => `${n} × ${k}`).join(', ') || 'none';
  const phases: { label: string; hammer: Parameters<typeof othersWhile>[4] }[] = [
    { label: 'nobody else busy', hammer: null },
    { label: `${hammerers} requests at a time to ${hammerers} ordinary cases`, hammer: hammerOn(api, busy, hammerers, 20) },
    { label: `${hammerers} requests at a time to one full case`, hammer: hammerOn(api, ['HAMMER-FULL'], hammerers, MAX) },
    { label: `${hammerers} requests at a time filling one case from 300`, hammer: hammerOn(api, ['HAMMER-GROW'], hammerers, 300) },
  ];
  say(`Other cases' events, one at a time (${others} cases, ${samples} events a phase), while:`);
  const idle: number[] = [];
  for (const phase of phases) {
    const cpu = stack.cpuSeconds();
    const began = Date.now();
    const { latencies, hammer } = await othersWhile(api, ids, samples, round, phase.hammer);
    if (phase.hammer === null) idle.push(...latencies);
    const ratio = (p: number) => (percentile(latencies, p) / percentile(idle, p)).toFixed(2);
    say(`  ${phase.label.padEnd(52)} ${ms(latencies)}; p50 x${ratio(50)}, p99 x${ratio(99)} of nobody busy`);
    say(`    ${((Date.now() - began) / 1000).toFixed(1)} s; ${phase.hammer ? `the requests got ${counts(hammer)}; ` : ''}CPU seconds: ${cpuUsed(cpu, stack.cpuSeconds())}`);
  }
}

/** Every case's row at its case's revision (the readModelSnapshot query), then ops verify. */
async function readModelPhase(stack: BenchStack): Promise<void> {
  say('');
  const began = Date.now();
  const ids = (await stack.db.query<{ case_id: string }>('SELECT case_id FROM cases ORDER BY case_id')).map((r) => r.case_id);
  const behind = async () => {
    const rows = new Map((await stack.db.query<{ case_id: string; revision: number }>('SELECT case_id, revision FROM cases')).map((r) => [r.case_id, r.revision]));
    const late: string[] = [];
    for (const caseId of ids) {
      const handle = stack.client.workflow.getHandle(caseWorkflowId(caseId));
      const { revision } = await handle.query(readModelSnapshotQuery);
      if ((rows.get(caseId) ?? -1) < revision) late.push(`${caseId} (row ${rows.get(caseId)}, case ${revision})`);
    }
    return late;
  };
  let late = await behind();
  while (late.length > 0 && Date.now() - began < 60_000) {
    await sleep(1_000);
    late = await behind();
  }
  say(`Read model: ${late.length === 0 ? `every row (${ids.length}) at its case's revision after ${((Date.now() - began) / 1000).toFixed(1)} s` : `behind after 60 s: ${late.join(', ')}`}`);
  const res = await fetch(`${stack.api}/api/v1/ops/verify`, { headers: { authorization: `Bearer ${stack.keys.ops}` } });
  const report = (await res.json()) as { ok: boolean; readModel?: Record<string, unknown> };
  say(`ops verify: ok ${report.ok}${report.ok ? '' : ` ${JSON.stringify(report.readModel)}`}`);
}

async function main(): Promise<void> {
  const [load1] = os.loadavg();
  say(`bench:case-limit on ${os.cpus().length} cores (nproc ${os.availableParallelism()}), load ${load1!.toFixed(2)} at the start; limits ${JSON.stringify(CASE_LIMITS)}`);
  enginePhase();
  say('');
  say(`Starting the stack (${topology}, ${options.workers} worker(s), the API as its own process) ...`);
  const stack = await startBenchStack({ temporal: true, topology, workers: options.workers });
  const api = apiClient(stack, options.hammerers + 2);
  await fillPhase(stack, api, options.hammerers);
  await atLimitPhase(stack, api, options['at-limit']);
  await isolationPhase(stack, api, options.others, options.samples, options.hammerers);
  await readModelPhase(stack);
  say(`load ${os.loadavg()[0]!.toFixed(2)} at the end`);
  api.close();
  await stack.stop();
}

main().catch(abort);
