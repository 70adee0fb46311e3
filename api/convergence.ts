import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { type CaseSnapshot, currentRunId, snapshotRow, writeCurrentSnapshots } from '../activities/read-model';
import { applyToCases, countMissingCases, listMissingCases } from '../platform/convergence';
import { type Db } from '../platform/db';
import { type PolicyRegistry, revisionContent } from '../platform/policy-registry';
import { caseWorkflowId, type FanoutProgress, readModelSnapshotQuery } from '../workflows/messages';
import { CASE_RUNS_QUERY } from '../workflows/policy-queries';
import { ApiError } from './errors';
import { timelineFingerprint } from '../workflows/domain/fingerprint';
import { type Timeline } from '../workflows/domain/types';
import { CaseFingerprintKey, CaseIdKey, CaseRevisionKey } from '../workflows/search-attributes';
import { type PolicyService } from './policy-service';

/** Case ids named in a report at most (the counts are always whole). */
const SAMPLE = 20;

export interface PolicyConvergence {
  policyId: string;
  revision: number;
  /** Open cases the revision reaches that have not applied it. */
  missing: number;
  sample: string[];
}

/** What is wrong with a case's read-model row, compared with the case itself. */
export type RowProblem =
  /** No row, or a row older than the case's change counter in the same run. */
  | 'behind'
  /** A row newer than the case's counter in the same run: a restore from elsewhere, or a bug. */
  | 'ahead'
  /** A row from another run than the case's current one (a reset), or at the case's revision with other content. */
  | 'differs'
  /** A row whose columns do not match its own timeline and fingerprint: edited by hand, or written by a bug. */
  | 'altered'
  /** A case older than the grace period that never published its change counter and has no row: its first task has not run. */
  | 'not-run';

export interface ReadModelConvergence {
  /** Case runs compared (open cases and the last run of closed ones, as visibility lists them). */
  cases: number;
  behind: number;
  ahead: number;
  differs: number;
  altered: number;
  notRun: number;
  /** Runs that began before the change counter was published (CaseRevision unset) and have a row: compared by rebuild only. */
  unverified: number;
  /** Runs that began before the fingerprint was published and have not changed since: compared by revision and run only. */
  unfingerprinted: number;
  sample: { caseId: string; problem: RowProblem; workflow: number | null; row: number | null }[];
}

export interface CasePolicyConvergence {
  /** case_policies rows for a revision the case's row does not hold (or for a case without a row). */
  stale: number;
  /** Revisions a case's row holds that case_policies lacks (the fan-out's window and the counts read it). */
  missing: number;
  sample: { caseId: string; policyId: string; revision: number; problem: 'stale' | 'missing' }[];
}

export interface VerifyReport {
  checkedAt: string;
  /** Cases started less than this long ago may not have run yet, and are not reported as not run. */
  graceSeconds: number;
  /** The newest revision of every policy. */
  policies: PolicyConvergence[];
  /** Fan-outs stored but never started. */
  pendingFanouts: string[];
  /** Fan-outs whose row says pending or running but whose workflow is closed or missing. */
  deadFanouts: string[];
  readModel: ReadModelConvergence;
  casePolicies: CasePolicyConvergence;
  /** Nothing missing, nothing stale, nothing pending, nothing dead. */
  ok: boolean;
}

/** What one round of repair did. */
export interface RepairRound {
  fanoutsStarted: number;
  /** Dead fan-outs whose row was closed: completed from the workflow's result, or abandoned. */
  fanoutsClosed: number;
  /** Cases that lacked a newest revision and were given it (by Update, as the fan-out does), their rows written. */
  signalled: number;
  rewritten: number;
  casePoliciesFixed: number;
}

interface CaseRun {
  caseId: string;
  workflowId: string;
  runId: string;
  /** CaseRevision as visibility shows it; null for a run from before it was published, or one that never ran. */
  revision: number | null;
  /** CaseFingerprint as visibility shows it; null for a run that has not changed since before it was published. */
  fingerprint: string | null;
  startedAtMs: number;
}

interface Row {
  case_id: string;
  workflow_id: string;
  revision: number;
  run_id: string | null;
  fingerprint: string | null;
  municipality: string;
  first_absence_day: string;
  status: string;
  category: number | null;
  conversation_mode: string | null;
  next_deadline: string | null;
  next_deadline_kind: string | null;
  overdue: boolean;
  closed_on: string | null;
  timeline: Timeline;
}

/** The columns a row derives from its timeline: they must be what snapshotRow makes of it. */
const DERIVED = ['municipality', 'first_absence_day', 'status', 'category', 'conversation_mode', 'next_deadline', 'next_deadline_kind', 'overdue', 'closed_on', 'fingerprint'] as const;

/**
 * Whether a row's columns and fingerprint are what its own timeline gives (a hand edit of any of them is
 * found). A row from before fingerprints were recorded has none to compare until its case writes again.
 */
function rowIntact(row: Row): boolean {
  if (row.timeline?.caseId !== row.case_id) return false;
  const expected = snapshotRow({ workflowId: row.workflow_id, revision: row.revision, timeline: row.timeline });
  return DERIVED.every((column) => (column === 'fingerprint' && row.fingerprint === null) || (expected[column] ?? null) === (row[column] ?? null));
}

/** The case as its row should show it: the current run's snapshot (the workflow's query), or visibility's view. */
interface CaseState {
  runId: string;
  revision: number;
  fingerprint: string | null;
}

function compare(state: CaseState, row: Row | undefined): RowProblem | null {
  if (!row) return 'behind';
  if (!rowIntact(row)) return 'altered';
  if (row.run_id !== null && row.run_id !== state.runId) return 'differs';
  if (row.revision < state.revision) return 'behind';
  if (row.revision > state.revision) return 'ahead';
  if (state.fingerprint !== null && row.fingerprint !== state.fingerprint) return 'differs';
  return null;
}

const DEFAULT_GRACE_SECONDS = 120;
/** Cases verify and repair ask at once when confirming suspect rows. */
const CONFIRM_CONCURRENCY = 16;

interface StaleRun {
  run: CaseRun;
  problem: RowProblem;
  workflow: number | null;
  row: number | null;
}
/** How long verify waits for a case to answer its query before it takes visibility's view of it. */
const QUERY_DEADLINE_MS = 5_000;

/** The read of a page's rows that verify compares (exported for bench:verify, which times it alone). */
export const ROWS_OF_CASES = `SELECT case_id, workflow_id, revision, run_id, fingerprint, municipality, first_absence_day::text, status, category,
       conversation_mode, next_deadline::text, next_deadline_kind, overdue, closed_on::text, timeline
  FROM cases WHERE case_id = ANY($1)`;

/** case_policies rows the case's row does not hold (stale), and revisions the row holds that case_policies lacks (missing). */
const CASE_POLICY_PROBLEMS = `
  WITH held AS (
    SELECT c.case_id, p."policyId" AS policy_id, p.revision
    FROM cases c CROSS JOIN LATERAL jsonb_to_recordset(c.timeline->'policies') AS p("policyId" text, revision integer)
  ),
  stale AS (
    SELECT cp.case_id, cp.policy_id, cp.revision, 'stale' AS problem FROM case_policies cp
    WHERE NOT EXISTS (SELECT 1 FROM held h WHERE h.case_id = cp.case_id AND h.policy_id = cp.policy_id AND h.revision = cp.revision)
  ),
  missing AS (
    SELECT h.case_id, h.policy_id, h.revision, 'missing' AS problem FROM held h
    WHERE NOT EXISTS (SELECT 1 FROM case_policies cp WHERE cp.case_id = h.case_id AND cp.policy_id = h.policy_id AND cp.revision = h.revision)
  )`;
/** How many of each (exported, with the sample, for bench:verify). */
export const CASE_POLICY_COUNTS = `${CASE_POLICY_PROBLEMS} SELECT problem, count(*) AS n FROM (SELECT problem FROM stale UNION ALL SELECT problem FROM missing) a GROUP BY problem`;
export const CASE_POLICY_SAMPLE = `${CASE_POLICY_PROBLEMS} (SELECT * FROM stale ORDER BY case_id LIMIT $1) UNION ALL (SELECT * FROM missing ORDER BY case_id LIMIT $1)`;

/**
 * Verify and repair, for operations (README, Verify and repair). Verify asks visibility, per newest policy
 * revision, for the open cases in scope that lack it, and compares every case's change counter (the
 * CaseRevision search attribute) with its read-model row. Repair starts pending fan-outs, applies the
 * revision to the missing cases within the fan-out's window and rate, and rewrites stale rows from the case's
 * own snapshot (a query of the workflow).
 */
export function createConvergence({ client, db, registry, policies }: { client: Client; db: Db; registry: PolicyRegistry; policies: PolicyService }) {
  /** A page of case runs with their change counter and fingerprint as visibility shows them. */
  async function caseRuns(pageToken: string | null, pageSize: number): Promise<{ runs: CaseRun[]; nextPageToken: string | null }> {
    const token = pageToken ? Buffer.from(pageToken, 'base64') : undefined;
    if (pageToken && (token!.length === 0 || token!.toString('base64') !== pageToken.replace(/\s/g, ''))) {
      throw new ApiError(400, 'invalid-request', 'pageToken is not a page token this API gave', [{ field: 'pageToken', problem: 'not a page token from a previous answer' }]);
    }
    const page = await client.workflowService
      .listWorkflowExecutions({ namespace: client.options.namespace, query: CASE_RUNS_QUERY, pageSize, nextPageToken: token })
      .catch((err: unknown) => {
        // Temporal refuses a token it did not make as an invalid argument (gRPC status 3).
        if (pageToken && (err as { code?: number }).code === 3) throw new ApiError(400, 'invalid-request', 'pageToken is not a page token this API gave', [{ field: 'pageToken', problem: 'not a page token from a previous answer' }]);
        throw err;
      });
    const runs: CaseRun[] = [];
    for (const e of page.executions ?? []) {
      const fields = e.searchAttributes?.indexedFields ?? {};
      const decode = (name: string) => {
        const payload = fields[name];
        return payload?.data ? (JSON.parse(Buffer.from(payload.data).toString('utf8')) as unknown) : undefined;
      };
      const caseId = decode(CaseIdKey.name);
      const revision = decode(CaseRevisionKey.name);
      const fingerprint = decode(CaseFingerprintKey.name);
      const startedAtMs = e.startTime ? Number(e.startTime.seconds ?? 0) * 1000 + Math.floor((e.startTime.nanos ?? 0) / 1e6) : 0;
      if (typeof caseId === 'string') {
        runs.push({
          caseId,
          workflowId: e.execution!.workflowId!,
          runId: e.execution!.runId!,
          revision: typeof revision === 'number' ? revision : null,
          fingerprint: typeof fingerprint === 'string' ? fingerprint : null,
          startedAtMs,
        });
      }
    }
    const next = page.nextPageToken && page.nextPageToken.length > 0 ? Buffer.from(page.nextPageToken).toString('base64') : null;
    return { runs, nextPageToken: next };
  }

  async function rowsOf(caseIds: string[]): Promise<Map<string, Row>> {
    if (caseIds.length === 0) return new Map();
    const rows = await db.query<Row>(ROWS_OF_CASES, [caseIds]);
    return new Map(rows.map((r) => [r.case_id, r]));
  }

  /**
   * The case's current run as the workflow itself reports it; visibility's view, unconfirmed, when it cannot
   * answer within QUERY_DEADLINE_MS (no worker running, say), so that verify reports instead of waiting on it. Null when
   * the listed run is not the case's current one (a run a reset replaced): the current run is listed too.
   */
  async function caseState(run: CaseRun & { revision: number }): Promise<CaseState | null> {
    const current = await currentRunId(client, run.workflowId);
    if (current !== null && current !== run.runId) return null;
    return client.connection
      .withDeadline(Date.now() + QUERY_DEADLINE_MS, () => client.workflow.getHandle(run.workflowId, run.runId).query(readModelSnapshotQuery))
      .then(
        (s) => ({ runId: s.runId ?? run.runId, revision: s.revision, fingerprint: timelineFingerprint(s.timeline) }),
        () => ({ runId: run.runId, revision: run.revision, fingerprint: run.fingerprint }),
      );
  }

  /**
   * The stale ones among a page of runs: rows that differ from the case in run, revision or content, or whose
   * own columns do not match their timeline. Visibility may lag the case (its row can be written before
   * visibility shows the task's new counter), and it lists a run that a reset replaced beside the new one, so
   * each candidate is confirmed by asking the case itself, whose query answers from its current run.
   */
  async function staleRuns(runs: CaseRun[]): Promise<StaleRun[]> {
    return confirm(await suspects(runs));
  }

  /** The runs of a page whose row differs from what visibility shows of the case (cheap: one read of the rows). */
  async function suspects(runs: CaseRun[]): Promise<(CaseRun & { revision: number })[]> {
    const rows = await rowsOf(runs.map((r) => r.caseId));
    return runs.filter(
      (run): run is CaseRun & { revision: number } => run.revision !== null && compare({ ...run, revision: run.revision }, rows.get(run.caseId)) !== null,
    );
  }

  /**
   * Asks each suspect's case, CONFIRM_CONCURRENCY at a time: a case that cannot answer costs its query's
   * deadline once, beside the others, not once per page of the listing.
   */
  async function confirm(candidates: (CaseRun & { revision: number })[]): Promise<StaleRun[]> {
    const queue = [...candidates];
    const found: StaleRun[] = [];
    await Promise.all(
      Array.from({ length: Math.min(CONFIRM_CONCURRENCY, queue.length) }, async () => {
        for (let run = queue.shift(); run; run = queue.shift()) {
          // The row is read before and after the case is asked. A row read before cannot be ahead of the case
          // it was written from, so a row ahead only of a later read is the case's own newer write.
          const before = (await rowsOf([run.caseId])).get(run.caseId);
          const state = await caseState(run);
          if (state === null) continue;
          const row = (await rowsOf([run.caseId])).get(run.caseId);
          const after = compare(state, row);
          const problem = after === 'ahead' ? (compare(state, before) === 'ahead' ? 'ahead' : null) : after;
          if (problem !== null) found.push({ run, problem, workflow: state.revision, row: row?.revision ?? null });
        }
      }),
    );
    return found.sort((a, b) => (a.run.caseId < b.run.caseId ? -1 : a.run.caseId > b.run.caseId ? 1 : 0));
  }

  /**
   * Runs whose first task has not run though they started longer ago than the grace: no CaseRevision, and no
   * row, or a row another run wrote (a run reset to its first task, which the worker has not run again yet).
   */
  async function notRunRuns(runs: CaseRun[], graceSeconds: number): Promise<CaseRun[]> {
    const unset = runs.filter((r) => r.revision === null);
    if (unset.length === 0) return [];
    const rows = await rowsOf(unset.map((r) => r.caseId));
    const before = Date.now() - graceSeconds * 1000;
    return unset.filter((r) => {
      const row = rows.get(r.caseId);
      return r.startedAtMs <= before && (!row || (row.run_id !== null && row.run_id !== r.runId));
    });
  }

  async function casePolicyProblems(): Promise<CasePolicyConvergence> {
    const counts = await db.query<{ problem: 'stale' | 'missing'; n: string }>(CASE_POLICY_COUNTS);
    const count = (problem: 'stale' | 'missing') => Number(counts.find((c) => c.problem === problem)?.n ?? 0);
    const sample =
      count('stale') + count('missing') === 0
        ? []
        : await db.query<{ case_id: string; policy_id: string; revision: number; problem: 'stale' | 'missing' }>(CASE_POLICY_SAMPLE, [SAMPLE]);
    return {
      stale: count('stale'),
      missing: count('missing'),
      sample: sample.slice(0, SAMPLE).map((r) => ({ caseId: r.case_id, policyId: r.policy_id, revision: r.revision, problem: r.problem })),
    };
  }

  /** Makes case_policies hold exactly the revisions each case's row holds (run after stale rows were rewritten). */
  async function repairCasePolicies(): Promise<number> {
    const [{ n: dropped }] = await db.query<{ n: string }>(
      `${CASE_POLICY_PROBLEMS},
       gone AS (DELETE FROM case_policies cp USING stale s WHERE cp.case_id = s.case_id AND cp.policy_id = s.policy_id AND cp.revision = s.revision RETURNING 1)
       SELECT count(*) AS n FROM gone`,
    ) as [{ n: string }];
    const [{ n: added }] = await db.query<{ n: string }>(
      `${CASE_POLICY_PROBLEMS},
       added AS (INSERT INTO case_policies (case_id, policy_id, revision) SELECT case_id, policy_id, revision FROM missing ON CONFLICT DO NOTHING RETURNING 1)
       SELECT count(*) AS n FROM added`,
    ) as [{ n: string }];
    return Number(dropped) + Number(added);
  }

  /**
   * Fan-outs whose row says pending or running but whose workflow is closed, or (running) missing: one that
   * was terminated or failed, or one that completed while the row came back from an older backup.
   */
  async function deadFanouts(): Promise<{ workflowId: string; completed: boolean }[]> {
    const rows = await db.query<{ workflow_id: string; status: 'pending' | 'running' }>(`SELECT workflow_id, status FROM policy_fanouts WHERE status IN ('pending', 'running') ORDER BY started_at`);
    const { WORKFLOW_EXECUTION_STATUS_RUNNING, WORKFLOW_EXECUTION_STATUS_COMPLETED } = temporal.api.enums.v1.WorkflowExecutionStatus;
    const dead = await Promise.all(
      rows.map(async ({ workflow_id: workflowId, status }) => {
        try {
          const described = await client.workflowService.describeWorkflowExecution({ namespace: client.options.namespace, execution: { workflowId } });
          const state = described.workflowExecutionInfo?.status;
          return state === WORKFLOW_EXECUTION_STATUS_RUNNING ? null : { workflowId, completed: state === WORKFLOW_EXECUTION_STATUS_COMPLETED };
        } catch (err) {
          // NOT_FOUND (5): a pending row's fan-out was never started (pendingFanouts); a running one's is gone.
          if ((err as { code?: number }).code === 5) return status === 'running' ? { workflowId, completed: false } : null;
          throw err;
        }
      }),
    );
    return dead.filter((d): d is { workflowId: string; completed: boolean } => d !== null);
  }

  /**
   * Closes the rows of dead fan-outs: one whose workflow completed gets its final progress from the workflow's
   * result; any other is abandoned (repair itself applies the revision to the cases it left).
   */
  async function closeDeadFanouts(dead: { workflowId: string; completed: boolean }[]): Promise<number> {
    let closed = 0;
    for (const { workflowId, completed } of dead) {
      if (completed) {
        const p = await client.workflow.getHandle(workflowId).result() as FanoutProgress;
        const updated = await db.query(
          `UPDATE policy_fanouts SET status = $2, matched = $3, signalled = $4, failed = $5, late_starters = $6, passes = $7, missing = $8, updated_at = now()
           WHERE workflow_id = $1 AND status IN ('pending', 'running') RETURNING 1`,
          [workflowId, p.phase === 'superseded' ? 'superseded' : 'completed', p.matched, p.signalled, p.failed, p.lateStarters, p.passes, p.missing],
        );
        closed += updated.length;
      } else {
        const updated = await db.query(`UPDATE policy_fanouts SET status = 'abandoned', updated_at = now() WHERE workflow_id = $1 AND status IN ('pending', 'running') RETURNING 1`, [workflowId]);
        closed += updated.length;
      }
    }
    return closed;
  }

  /**
   * Writes a case's row from its own snapshot (the workflow's query, answered by its current run). A row at
   * or ahead of the snapshot's revision is replaced (it was read before the workflow was asked, and the case's
   * counter only grows within a run, so such a row was not written by this run's newer change); a row behind
   * only moves forward, so a concurrent newer write by the case is never undone. A row of another run is
   * replaced once Temporal confirms the snapshot's run is current (writeCurrentSnapshots).
   */
  async function rewrite({ caseId, workflowId }: Pick<CaseRun, 'caseId' | 'workflowId'>): Promise<boolean> {
    try {
      const before = (await rowsOf([caseId])).get(caseId)?.revision;
      const snapshot: CaseSnapshot = await client.workflow.getHandle(workflowId).query(readModelSnapshotQuery);
      await writeCurrentSnapshots(db, client, [snapshot], before !== undefined && before >= snapshot.revision ? { replaceRevision: before } : {});
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  return {
    async verify({ graceSeconds = DEFAULT_GRACE_SECONDS }: { graceSeconds?: number } = {}): Promise<VerifyReport> {
      const newest = await registry.latest();
      const policyReports = await Promise.all(
        newest.map(async (stored): Promise<PolicyConvergence> => {
          const policy = revisionContent(stored);
          const missing = await countMissingCases(client, policy);
          const sample = missing === 0 ? [] : (await listMissingCases(client, policy, null, SAMPLE)).runs.map((r) => r.workflowId);
          return { policyId: policy.policyId, revision: policy.revision, missing, sample };
        }),
      );
      const readModel: ReadModelConvergence = { cases: 0, behind: 0, ahead: 0, differs: 0, altered: 0, notRun: 0, unverified: 0, unfingerprinted: 0, sample: [] };
      const note = (caseId: string, problem: RowProblem, workflow: number | null, row: number | null) => {
        if (readModel.sample.length < SAMPLE) readModel.sample.push({ caseId, problem, workflow, row });
      };
      let pageToken: string | null = null;
      const suspect: (CaseRun & { revision: number })[] = [];
      do {
        const page = await caseRuns(pageToken, 1_000);
        readModel.cases += page.runs.length;
        readModel.unfingerprinted += page.runs.filter((r) => r.revision !== null && r.fingerprint === null).length;
        const notRun = await notRunRuns(page.runs, graceSeconds);
        readModel.unverified += page.runs.filter((r) => r.revision === null).length - notRun.length;
        for (const run of notRun) {
          readModel.notRun++;
          note(run.caseId, 'not-run', null, null);
        }
        suspect.push(...(await suspects(page.runs)));
        pageToken = page.nextPageToken;
      } while (pageToken !== null);
      for (const { run, problem, workflow, row } of await confirm(suspect)) {
        readModel[problem === 'not-run' ? 'notRun' : problem]++;
        note(run.caseId, problem, workflow, row);
      }
      const dead = (await deadFanouts()).map((d) => d.workflowId);
      const pendingFanouts = (await registry.pendingFanouts()).map((f) => f.workflowId).filter((id) => !dead.includes(id));
      const casePolicies = await casePolicyProblems();
      const rowProblems = readModel.behind + readModel.ahead + readModel.differs + readModel.altered + readModel.notRun;
      const ok =
        policyReports.every((p) => p.missing === 0) &&
        rowProblems === 0 &&
        casePolicies.stale + casePolicies.missing === 0 &&
        pendingFanouts.length === 0 &&
        dead.length === 0;
      return { checkedAt: new Date().toISOString(), graceSeconds, policies: policyReports, pendingFanouts, deadFanouts: dead, readModel, casePolicies, ok };
    },

    /**
     * One round of repair, at most `limit` cases of each kind: starts pending fan-outs, closes the rows of
     * dead ones (completed from the workflow's result, else abandoned: the cases they left are reached here),
     * applies a newest revision to the open cases that lack it, rewrites stale rows, and makes case_policies
     * follow the rows. The revision goes to the cases as a fan-out page sends it (applyToCases): by Update, at
     * most FANOUT_MAX_IN_FLIGHT at once and FANOUT_SIGNALS_PER_SECOND a second, so a case system's event
     * waits behind as few during a repair as during a fan-out; each Update's snapshot is written here.
     */
    async repair(limit = 1_000): Promise<RepairRound> {
      const pending = (await registry.pendingFanouts()).length;
      await policies.startPendingFanouts();
      const fanoutsStarted = pending - (await registry.pendingFanouts()).length;
      const fanoutsClosed = await closeDeadFanouts(await deadFanouts());
      let signalled = 0;
      const { perSecond, maxInFlight } = policies.fanoutBounds;
      const write = (snapshot: CaseSnapshot) => writeCurrentSnapshots(db, client, [snapshot]);
      for (const stored of await registry.latest()) {
        const policy = revisionContent(stored);
        const { runs } = await listMissingCases(client, policy, null, limit);
        const applied = await applyToCases(client, policy, runs.map((r) => r.workflowId), { concurrency: maxInFlight, perSecond, write });
        signalled += applied.applied + applied.had;
      }
      let rewritten = 0;
      let pageToken: string | null = null;
      do {
        const page = await caseRuns(pageToken, 1_000);
        for (const { run } of await staleRuns(page.runs)) {
          if (rewritten >= limit) break;
          if (await rewrite(run)) rewritten++;
        }
        pageToken = rewritten >= limit ? null : page.nextPageToken;
      } while (pageToken !== null);
      const casePoliciesFixed = await repairCasePolicies();
      return { fanoutsStarted, fanoutsClosed, signalled, rewritten, casePoliciesFixed };
    },

    /**
     * Rebuilds the read model from Temporal, a page of cases at a time (after Postgres was restored from an
     * older backup): every case, open or closed, is written from its own snapshot.
     */
    async rebuildPage(pageToken: string | null, pageSize = 200): Promise<{ cases: number; rewritten: number; nextPageToken: string | null }> {
      const page = await caseRuns(pageToken, pageSize);
      let rewritten = 0;
      const queue = [...page.runs];
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          for (let run = queue.shift(); run; run = queue.shift()) if (await rewrite(run)) rewritten++;
        }),
      );
      return { cases: page.runs.length, rewritten, nextPageToken: page.nextPageToken };
    },

    /** The case's read-model snapshot as the workflow holds it (for tests and for support). */
    snapshotOf: (caseId: string) => client.workflow.getHandle(caseWorkflowId(caseId)).query(readModelSnapshotQuery),
  };
}

export type Convergence = ReturnType<typeof createConvergence>;
