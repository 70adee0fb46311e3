import { type Client } from '@temporalio/client';
import { type Db } from '../platform/db';
import { timelineFingerprint } from '../workflows/domain/fingerprint';
import { type Timeline } from '../workflows/domain/types';

export interface CaseSnapshot {
  workflowId: string;
  /**
   * The run that made the snapshot. Absent only in snapshots scheduled by workers from before runs were
   * recorded; such a snapshot is ordered by revision alone, as it was then.
   */
  runId?: string;
  /** Grows with every change of the case, across continue-as-new; a reset starts it again from the reset point. */
  revision: number;
  timeline: Timeline;
  /**
   * Only the first write of a case's first task (OPEN_IN_ONE_TASK): the registry position it was computed from
   * and the task's workflow time (ms), which a retry of the task has later. A retry asks the registry again and
   * may compute another timeline, at the same revision or another; the later fence wins, and a fenced write never
   * replaces a row the run wrote after its first task (those carry no fence).
   */
  opening?: { position: number; at: number };
}

export interface WriteOptions {
  /** ops repair only: a row at exactly this revision is replaced too, whatever its run and content. */
  replaceRevision?: number;
  /**
   * Cases whose snapshot Temporal confirmed comes from the workflow's current run, with the run of the row as
   * it was when Temporal was asked (null for a row from before runs were recorded): the snapshot replaces
   * that row whatever its revision (a run reset away, or the run before a continue-as-new), and no other, so
   * a row a newer run wrote meanwhile stays.
   */
  currentRun?: ReadonlyMap<string, string | null>;
}

/**
 * Writes cases' newest timelines to the read model: each case row with its run and fingerprint, its
 * deadlines, and exactly the policy revisions it holds, for the whole batch in one statement (one round
 * trip, atomic). Idempotent: a retry, a replay or a late older snapshot changes nothing, because within a
 * run a case only moves forward in revision (its deadlines and policies are replaced only when the case row
 * moved). Of several snapshots of one case in a batch, the newest is written. A deadline row is rewritten
 * only when something in it changed, so its case_revision is the case's revision when the deadline last
 * changed; a met conversation is not rewritten by every later change.
 *
 * A snapshot of another run than the row's is not written: it is returned in `otherRun`, for the caller to
 * ask Temporal which run is current (writeCurrentSnapshots). Revisions order the changes of one history, and
 * a reset starts a new history from an earlier revision, so across runs only Temporal can say which is newer.
 */
export async function writeCaseSnapshots(
  db: Db,
  snapshots: readonly CaseSnapshot[],
  options: WriteOptions = {},
): Promise<{ otherRun: (CaseSnapshot & { rowRunId: string | null })[] }> {
  const newest = new Map<string, CaseSnapshot>();
  for (const s of snapshots) {
    const seen = newest.get(s.timeline.caseId);
    if (seen && (seen.runId ?? null) !== (s.runId ?? null)) throw new Error(`writeCaseSnapshots: case ${s.timeline.caseId} has snapshots of two runs in one batch`);
    if (!seen || newerInRun(s, seen)) newest.set(s.timeline.caseId, s);
  }
  if (newest.size === 0) return { otherRun: [] };
  const caseIds = [...newest.keys()].sort();
  const forced = options.currentRun ?? new Map<string, string | null>();
  // The rows are locked first, in one order, and the write runs in a snapshot taken after the locks: two
  // writers of one case (a timed-out attempt and its retry, repair beside the worker) then see each other's
  // deadlines and case_policies rows instead of leaving ones the other wrote. The lock is the one the
  // statement's own UPDATE takes (NO KEY UPDATE), so inserts of deadlines, whose foreign key only shares the
  // case row, do not wait on it.
  const rows = await db.transaction(async (tx) => {
    await tx.query('SELECT 1 FROM cases WHERE case_id = ANY($1) ORDER BY case_id FOR NO KEY UPDATE', [caseIds]);
    const result = await tx.query<{ case_id: string; row_run_id: string | null }>({ name: 'write-case-snapshots', text: WRITE_SNAPSHOTS, values: [
      JSON.stringify([...newest.values()].map(snapshotRow)),
      options.replaceRevision ?? null,
      [...forced.keys()],
      JSON.stringify(Object.fromEntries(forced)),
    ] });
    return result.rows;
  });
  const other = new Map(rows.map((r) => [r.case_id, r.row_run_id]));
  return { otherRun: [...newest.values()].filter((s) => other.has(s.timeline.caseId)).map((s) => ({ ...s, rowRunId: other.get(s.timeline.caseId) ?? null })) };
}

/**
 * Which of two snapshots of one run the row should show, as the statement below decides: between two first-task
 * writes the later fence, a write made after the first task over a first-task write, else the higher revision.
 */
function newerInRun(a: CaseSnapshot, b: CaseSnapshot): boolean {
  if (a.opening && b.opening) return a.opening.position !== b.opening.position ? a.opening.position > b.opening.position : a.opening.at > b.opening.at;
  if (a.opening) return false;
  if (b.opening) return true;
  return a.revision > b.revision;
}

const WRITE_SNAPSHOTS = `WITH input AS (
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
         case_id text, workflow_id text, municipality text, first_absence_day date, status text, category smallint,
         conversation_mode text, next_deadline date, next_deadline_kind text, overdue boolean, closed_on date,
         revision integer, run_id text, fingerprint text, timeline jsonb, deadlines jsonb, policies jsonb,
         opening_position bigint, opening_at bigint)
     ),
     -- A row of another run, or a row from before runs were recorded that a run's snapshot would not move.
     other_run AS (
       SELECT i.case_id, c.run_id AS row_run_id FROM input i JOIN cases c ON c.case_id = i.case_id
       WHERE (c.run_id <> i.run_id OR (c.run_id IS NULL AND i.run_id IS NOT NULL AND c.revision >= i.revision))
         AND NOT i.case_id = ANY($3::text[]) AND c.revision IS DISTINCT FROM $2::integer
     ),
     moved AS (
       INSERT INTO cases (case_id, workflow_id, municipality, first_absence_day, status, category, conversation_mode,
                          next_deadline, next_deadline_kind, overdue, closed_on, revision, run_id, fingerprint, timeline,
                          opening_position, opening_at, updated_at)
       SELECT case_id, workflow_id, municipality, first_absence_day, status, category, conversation_mode,
              next_deadline, next_deadline_kind, overdue, closed_on, revision, run_id, fingerprint, timeline,
              opening_position, opening_at, now()
       FROM input
       ON CONFLICT (case_id) DO UPDATE SET
         status = EXCLUDED.status, category = EXCLUDED.category, conversation_mode = EXCLUDED.conversation_mode,
         next_deadline = EXCLUDED.next_deadline, next_deadline_kind = EXCLUDED.next_deadline_kind,
         overdue = EXCLUDED.overdue, closed_on = EXCLUDED.closed_on, revision = EXCLUDED.revision,
         run_id = COALESCE(EXCLUDED.run_id, cases.run_id), fingerprint = EXCLUDED.fingerprint,
         timeline = EXCLUDED.timeline, opening_position = EXCLUDED.opening_position, opening_at = EXCLUDED.opening_at,
         updated_at = now()
       -- Within a run (a row or snapshot from before runs were recorded counts as the same run), forward only; a
       -- first task's write (fenced) replaces only another first task's write, from an earlier attempt of it.
       WHERE (cases.revision < EXCLUDED.revision AND EXCLUDED.opening_position IS NULL
              AND COALESCE(cases.run_id, EXCLUDED.run_id) IS NOT DISTINCT FROM COALESCE(EXCLUDED.run_id, cases.run_id))
          OR (cases.run_id = EXCLUDED.run_id AND cases.opening_position IS NOT NULL AND EXCLUDED.opening_position IS NOT NULL
              AND (EXCLUDED.opening_position, EXCLUDED.opening_at) > (cases.opening_position, cases.opening_at))
          OR cases.revision = $2::integer
          OR (cases.case_id = ANY($3::text[]) AND cases.run_id IS DISTINCT FROM EXCLUDED.run_id
              AND cases.run_id IS NOT DISTINCT FROM ($4::jsonb ->> cases.case_id))
       RETURNING case_id
     ),
     incoming AS (
       SELECT i.case_id, i.municipality, i.revision, i.status <> 'closed' AS case_open, d.*
       FROM input i
       JOIN moved m ON m.case_id = i.case_id
       CROSS JOIN LATERAL jsonb_to_recordset(i.deadlines) AS d(id text, kind text, due date, original date, status text,
                                                                met_on date, days_late int, mode text, policy_ids jsonb)
     ),
     removed AS (
       DELETE FROM deadlines dl
       USING moved m
       WHERE dl.case_id = m.case_id
         AND NOT EXISTS (SELECT 1 FROM incoming x WHERE x.case_id = dl.case_id AND x.id = dl.deadline_id)
     ),
     replaced AS (
       INSERT INTO deadlines (case_id, deadline_id, kind, municipality, due_date, original_due_date, status, met_on,
                              days_late, mode, policy_ids, case_open, case_revision)
       SELECT x.case_id, x.id, x.kind, x.municipality, x.due, x.original, x.status, x.met_on, x.days_late, x.mode,
              ARRAY(SELECT jsonb_array_elements_text(x.policy_ids)), x.case_open, x.revision
       FROM incoming x
       ON CONFLICT (case_id, deadline_id) DO UPDATE SET
         kind = EXCLUDED.kind, due_date = EXCLUDED.due_date, original_due_date = EXCLUDED.original_due_date,
         status = EXCLUDED.status, met_on = EXCLUDED.met_on, days_late = EXCLUDED.days_late, mode = EXCLUDED.mode,
         policy_ids = EXCLUDED.policy_ids, case_open = EXCLUDED.case_open, case_revision = EXCLUDED.case_revision
       WHERE (deadlines.kind, deadlines.due_date, deadlines.original_due_date, deadlines.status, deadlines.met_on,
              deadlines.days_late, deadlines.mode, deadlines.policy_ids, deadlines.case_open)
             IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.due_date, EXCLUDED.original_due_date, EXCLUDED.status,
              EXCLUDED.met_on, EXCLUDED.days_late, EXCLUDED.mode, EXCLUDED.policy_ids, EXCLUDED.case_open)
     ),
     held AS (
       SELECT i.case_id, p.policy_id, p.revision
       FROM input i JOIN moved m ON m.case_id = i.case_id
       CROSS JOIN LATERAL jsonb_to_recordset(i.policies) AS p(policy_id text, revision integer)
     ),
     -- case_policies follows the case: a revision the case no longer holds (a reset, a rebuilt case) goes.
     dropped AS (
       DELETE FROM case_policies cp
       USING moved m
       WHERE cp.case_id = m.case_id
         AND NOT EXISTS (SELECT 1 FROM held h WHERE h.case_id = cp.case_id AND h.policy_id = cp.policy_id AND h.revision = cp.revision)
     ),
     applied AS (
       INSERT INTO case_policies (case_id, policy_id, revision)
       SELECT case_id, policy_id, revision FROM held
       ON CONFLICT DO NOTHING
     )
     SELECT case_id, row_run_id FROM other_run`;

/**
 * Writes snapshots, and those of another run than their row's once Temporal confirms which run is current:
 * the current run's snapshot replaces the row (a reset, or the first write after a continue-as-new); a
 * run that is no longer current (a write that arrives after a reset) is dropped. The question costs one
 * call to Temporal per such snapshot, which is rare: once per reset or continue-as-new of a case.
 */
export async function writeCurrentSnapshots(db: Db, client: Client, snapshots: readonly CaseSnapshot[], options: Omit<WriteOptions, 'currentRun'> = {}): Promise<void> {
  // One statement holds one run's snapshot of a case: a batch that holds two runs of a case (a late write of a
  // run reset away beside the new run's first) goes in rounds, so neither hides the other.
  const rounds: CaseSnapshot[][] = [];
  const runsOf = new Map<string, string[]>();
  for (const s of snapshots) {
    const runs = runsOf.get(s.timeline.caseId) ?? [];
    let round = runs.indexOf(s.runId ?? '');
    if (round < 0) {
      round = runs.push(s.runId ?? '') - 1;
      runsOf.set(s.timeline.caseId, runs);
    }
    (rounds[round] ??= []).push(s);
  }
  for (const round of rounds) {
    const { otherRun } = await writeCaseSnapshots(db, round, options);
    if (otherRun.length === 0) continue;
    const current = await Promise.all(otherRun.map(async (s) => ((await currentRunId(client, s.workflowId)) === s.runId ? s : null)));
    const confirmed = current.filter((s): s is (typeof otherRun)[number] => s !== null);
    if (confirmed.length > 0) await writeCaseSnapshots(db, confirmed, { ...options, currentRun: new Map(confirmed.map((s) => [s.timeline.caseId, s.rowRunId])) });
  }
}

/** The run id of the workflow's current run; null when Temporal has no such workflow. */
export async function currentRunId(client: Client, workflowId: string): Promise<string | null> {
  try {
    const described = await client.workflowService.describeWorkflowExecution({ namespace: client.options.namespace, execution: { workflowId } });
    return described.workflowExecutionInfo?.execution?.runId ?? null;
  } catch (err) {
    // gRPC NOT_FOUND (5): the workflow is gone (deleted, or past retention); nothing of it is current.
    if ((err as { code?: number }).code === 5) return null;
    throw err;
  }
}

/** One case's snapshot as the statement's input row (the columns of jsonb_to_recordset above). */
export function snapshotRow({ workflowId, runId, revision, timeline, opening }: CaseSnapshot) {
  const next = timeline.deadlines.find((d) => (d.status === 'pending' || d.status === 'paused') && d.dueDate !== null);
  return {
    case_id: timeline.caseId,
    workflow_id: workflowId,
    municipality: timeline.municipality,
    first_absence_day: timeline.firstAbsenceDay,
    status: timeline.status,
    category: timeline.category,
    conversation_mode: timeline.conversationMode,
    next_deadline: next?.dueDate ?? null,
    next_deadline_kind: next?.kind ?? null,
    overdue: timeline.deadlines.some((d) => d.status === 'missed'),
    closed_on: timeline.closedOn,
    revision,
    run_id: runId ?? null,
    fingerprint: timelineFingerprint(timeline),
    timeline,
    opening_position: opening?.position ?? null,
    opening_at: opening?.at ?? null,
    deadlines: timeline.deadlines.map((x) => ({
      id: x.id,
      kind: x.kind,
      due: x.dueDate,
      original: x.originalDueDate,
      status: x.status,
      met_on: x.metOn,
      days_late: x.status === 'met' ? x.daysLate : null,
      mode: x.mode ?? null,
      policy_ids: x.policyIds,
    })),
    policies: timeline.policies.map((p) => ({ policy_id: p.policyId, revision: p.revision })),
  };
}
