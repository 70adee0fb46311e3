import { type Db } from '../platform/db';
import { type Timeline } from '../workflows/domain/types';

export interface CaseSnapshot {
  workflowId: string;
  /** Grows with every change of the case, across continue-as-new; older snapshots never overwrite newer. */
  revision: number;
  timeline: Timeline;
}

/**
 * Writes cases' newest timelines to the read model: each case row, its deadlines, and which policy
 * revisions it applied, for the whole batch in one statement (one round trip, atomic). Idempotent on
 * unique keys: a retry, a replay or a late older snapshot changes nothing, because a case only moves
 * forward in revision (its deadlines are replaced only when the case row moved) and a (case, policy,
 * revision) pair is written once. Of several snapshots of one case in a batch, the newest is written.
 * A deadline row is rewritten only when something in it changed, so its case_revision is the case's
 * revision when the deadline last changed; a met conversation is not rewritten by every later change.
 * `replaceRevision` (ops repair only): a row at exactly that revision is replaced too, even by an older
 * snapshot: a row found ahead of its workflow before the workflow was asked.
 */
export async function writeCaseSnapshots(db: Db, snapshots: readonly CaseSnapshot[], options: { replaceRevision?: number } = {}): Promise<void> {
  const newest = new Map<string, CaseSnapshot>();
  for (const s of snapshots) {
    const seen = newest.get(s.timeline.caseId);
    if (!seen || seen.revision < s.revision) newest.set(s.timeline.caseId, s);
  }
  if (newest.size === 0) return;
  await db.query(
    `WITH input AS (
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
         case_id text, workflow_id text, municipality text, first_absence_day date, status text, category smallint,
         conversation_mode text, next_deadline date, next_deadline_kind text, overdue boolean, closed_on date,
         revision integer, timeline jsonb, deadlines jsonb, policies jsonb)
     ),
     moved AS (
       INSERT INTO cases (case_id, workflow_id, municipality, first_absence_day, status, category, conversation_mode,
                          next_deadline, next_deadline_kind, overdue, closed_on, revision, timeline, updated_at)
       SELECT case_id, workflow_id, municipality, first_absence_day, status, category, conversation_mode,
              next_deadline, next_deadline_kind, overdue, closed_on, revision, timeline, now()
       FROM input
       ON CONFLICT (case_id) DO UPDATE SET
         status = EXCLUDED.status, category = EXCLUDED.category, conversation_mode = EXCLUDED.conversation_mode,
         next_deadline = EXCLUDED.next_deadline, next_deadline_kind = EXCLUDED.next_deadline_kind,
         overdue = EXCLUDED.overdue, closed_on = EXCLUDED.closed_on, revision = EXCLUDED.revision,
         timeline = EXCLUDED.timeline, updated_at = now()
       WHERE cases.revision < EXCLUDED.revision OR cases.revision = $2::integer
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
     applied AS (
       INSERT INTO case_policies (case_id, policy_id, revision)
       SELECT i.case_id, p.policy_id, p.revision
       FROM input i CROSS JOIN LATERAL jsonb_to_recordset(i.policies) AS p(policy_id text, revision integer)
       ON CONFLICT DO NOTHING
     )
     SELECT 1`,
    [JSON.stringify([...newest.values()].map(snapshotRow)), options.replaceRevision ?? null],
    { name: 'write-case-snapshots' },
  );
}

/** One case's snapshot as the statement's input row (the columns of jsonb_to_recordset above). */
function snapshotRow({ workflowId, revision, timeline }: CaseSnapshot) {
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
    timeline,
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
