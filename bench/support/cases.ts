import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { type Db } from '../../platform/db';
import { addDays, copenhagenDate } from '../../workflows/domain/dates';
import { type PolicyRevision } from '../../workflows/domain/types';
import { caseWorkflowId, type CaseWorkflowInput } from '../../workflows/messages';
import { caseStartSearchAttributes } from '../../workflows/search-attributes';
import { say, sleep } from './options';
import { type BenchStack } from './stack';

/* The cases a benchmark opens, the policies it publishes, and how it counts what they reached. */

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
                typedSearchAttributes: caseStartSearchAttributes(caseId, '101'),
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
