import { type Db } from '../platform/db';
import { type Timeline } from '../workflows/domain/types';

export interface CaseSnapshot {
  workflowId: string;
  /** Grows with every change of the case, across continue-as-new; older snapshots never overwrite newer. */
  revision: number;
  timeline: Timeline;
}

/**
 * Writes a case's newest timeline to the read model: the case row, its deadlines, and which policy
 * revisions it applied, in one statement (so one round trip, and atomic). Idempotent on unique keys: a
 * retry, a replay or a late older snapshot changes nothing, because a case only moves forward in revision
 * (the deadlines are replaced only when the case row moved) and a (case, policy, revision) pair is
 * written once.
 */
export async function writeCaseSnapshot(db: Db, { workflowId, revision, timeline }: CaseSnapshot): Promise<void> {
  const next = timeline.deadlines.find((d) => (d.status === 'pending' || d.status === 'paused') && d.dueDate !== null);
  await db.query(
    `WITH moved AS (
       INSERT INTO cases (case_id, workflow_id, municipality, first_absence_day, status, category, conversation_mode,
                          next_deadline, next_deadline_kind, overdue, closed_on, revision, timeline, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, now())
       ON CONFLICT (case_id) DO UPDATE SET
         status = EXCLUDED.status, category = EXCLUDED.category, conversation_mode = EXCLUDED.conversation_mode,
         next_deadline = EXCLUDED.next_deadline, next_deadline_kind = EXCLUDED.next_deadline_kind,
         overdue = EXCLUDED.overdue, closed_on = EXCLUDED.closed_on, revision = EXCLUDED.revision,
         timeline = EXCLUDED.timeline, updated_at = now()
       WHERE cases.revision < EXCLUDED.revision
       RETURNING case_id
     ),
     incoming AS (
       SELECT x.* FROM jsonb_to_recordset($14::jsonb) AS x(id text, kind text, due date, original date, status text,
                                                          met_on date, days_late int, mode text, policy_ids jsonb)
       WHERE EXISTS (SELECT 1 FROM moved)
     ),
     removed AS (
       DELETE FROM deadlines
       WHERE case_id = $1 AND EXISTS (SELECT 1 FROM moved) AND NOT (deadline_id = ANY (ARRAY(SELECT id FROM incoming)))
     ),
     replaced AS (
       INSERT INTO deadlines (case_id, deadline_id, kind, municipality, due_date, original_due_date, status, met_on,
                              days_late, mode, policy_ids, case_open, case_revision)
       SELECT $1, x.id, x.kind, $3, x.due, x.original, x.status, x.met_on, x.days_late, x.mode,
              ARRAY(SELECT jsonb_array_elements_text(x.policy_ids)), $15, $12
       FROM incoming x
       ON CONFLICT (case_id, deadline_id) DO UPDATE SET
         kind = EXCLUDED.kind, due_date = EXCLUDED.due_date, original_due_date = EXCLUDED.original_due_date,
         status = EXCLUDED.status, met_on = EXCLUDED.met_on, days_late = EXCLUDED.days_late, mode = EXCLUDED.mode,
         policy_ids = EXCLUDED.policy_ids, case_open = EXCLUDED.case_open, case_revision = EXCLUDED.case_revision
     ),
     applied AS (
       INSERT INTO case_policies (case_id, policy_id, revision)
       SELECT $1, p.policy_id, p.revision FROM unnest($16::text[], $17::int[]) AS p(policy_id, revision)
       ON CONFLICT DO NOTHING
     )
     SELECT 1`,
    [
      timeline.caseId,
      workflowId,
      timeline.municipality,
      timeline.firstAbsenceDay,
      timeline.status,
      timeline.category,
      timeline.conversationMode,
      next?.dueDate ?? null,
      next?.kind ?? null,
      timeline.deadlines.some((d) => d.status === 'missed'),
      timeline.closedOn,
      revision,
      JSON.stringify(timeline),
      JSON.stringify(
        timeline.deadlines.map((x) => ({
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
      ),
      timeline.status !== 'closed',
      timeline.policies.map((p) => p.policyId),
      timeline.policies.map((p) => p.revision),
    ],
  );
}
