import { type Db } from '../platform/db';
import { type Logger } from '../platform/logger';
import { type Timeline } from '../workflows/domain/types';

export interface CaseSnapshot {
  workflowId: string;
  /** Grows with every change of the case, across continue-as-new; older snapshots never overwrite newer. */
  revision: number;
  timeline: Timeline;
}

export interface ActivityDeps {
  db: Db;
  logger: Logger;
}

/** Side effects of the case workflow, built from their dependencies. */
export function createActivities({ db, logger }: ActivityDeps) {
  return {
    /**
     * Writes the case's newest timeline to the read model. Idempotent: a retry, a replay or a late
     * older snapshot changes nothing, because a row only moves forward in revision.
     */
    async recordCaseSnapshot({ workflowId, revision, timeline }: CaseSnapshot): Promise<void> {
      const next = timeline.deadlines.find((d) => (d.status === 'pending' || d.status === 'paused') && d.dueDate !== null);
      await db.query(
        `INSERT INTO cases (case_id, workflow_id, municipality, first_absence_day, status, category, conversation_mode,
                            next_deadline, next_deadline_kind, overdue, closed_on, revision, timeline, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, now())
         ON CONFLICT (case_id) DO UPDATE SET
           status = EXCLUDED.status, category = EXCLUDED.category, conversation_mode = EXCLUDED.conversation_mode,
           next_deadline = EXCLUDED.next_deadline, next_deadline_kind = EXCLUDED.next_deadline_kind,
           overdue = EXCLUDED.overdue, closed_on = EXCLUDED.closed_on, revision = EXCLUDED.revision,
           timeline = EXCLUDED.timeline, updated_at = now()
         WHERE cases.revision < EXCLUDED.revision`,
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
        ],
      );
      logger.debug('case snapshot recorded', { caseId: timeline.caseId, revision, status: timeline.status });
    },
  };
}

export type CaseActivities = ReturnType<typeof createActivities>;
