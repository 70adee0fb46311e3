import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { type CaseSnapshot, currentRunId, snapshotRow, writeCurrentSnapshots } from '../../activities/read-model';
import { type Db } from '../../platform/db';
import { timelineFingerprint } from '../../workflows/domain/fingerprint';
import { type Timeline } from '../../workflows/domain/types';
import { readModelSnapshotQuery } from '../../workflows/messages';
import { CASE_RUNS_QUERY } from '../../workflows/policy-queries';
import { CaseFingerprintKey, CaseIdKey, CaseRevisionKey } from '../../workflows/search-attributes';
import { ApiError } from '../errors';
import { type RowProblem } from './report';

/*
 * The read model's rows against the cases themselves: visibility lists every case run with its change counter
 * (CaseRevision) and fingerprint, each page's rows are read and compared, a suspect row is confirmed by asking
 * its case, and a stale row is rewritten from the case's own snapshot.
 */

export interface CaseRun {
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

/** The case runs visibility lists against their read-model rows, through the API's Temporal client and database. */
export function createReadModelCheck({ client, db }: { client: Client; db: Db }) {
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

  return { caseRuns, staleRuns, suspects, confirm, notRunRuns, rewrite };
}

export type ReadModelCheck = ReturnType<typeof createReadModelCheck>;
