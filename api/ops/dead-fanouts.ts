import { type Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { type Db } from '../../platform/db';
import { type FanoutProgress } from '../../workflows/messages';

/** A fan-out whose row says pending or running while its workflow is not running. */
export interface DeadFanout {
  workflowId: string;
  /** The workflow completed (its result holds the final progress); otherwise it failed, was terminated or is gone. */
  completed: boolean;
}

/**
 * Fan-outs whose row says pending or running but whose workflow is closed, or (running) missing: one that
 * was terminated or failed, or one that completed while the row came back from an older backup.
 */
export async function deadFanouts(client: Client, db: Db): Promise<DeadFanout[]> {
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
  return dead.filter((d): d is DeadFanout => d !== null);
}

/**
 * Closes the rows of dead fan-outs: one whose workflow completed gets its final progress from the workflow's
 * result; any other is abandoned (repair itself applies the revision to the cases it left).
 */
export async function closeDeadFanouts(client: Client, db: Db, dead: DeadFanout[]): Promise<number> {
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
