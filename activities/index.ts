import { Context } from '@temporalio/activity';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { type Db } from '../platform/db';
import { type Logger } from '../platform/logger';
import { type PolicyRevision } from '../workflows/domain/types';
import { type FanoutProgress, policyChangeSignal } from '../workflows/messages';
import { type CaseSnapshot, writeCaseSnapshots } from './read-model';

export type { CaseSnapshot } from './read-model';

export interface PolicyPage {
  policy: PolicyRevision;
  query: string;
  /** Base64 visibility page token; null for the first page. */
  pageToken: string | null;
  pageSize: number;
  signalsPerSecond: number;
}

export interface PolicyPageResult {
  matched: number;
  signalled: number;
  failed: number;
  nextPageToken: string | null;
}

interface PageHeartbeat {
  done: number;
  signalled: number;
  failed: number;
}

export interface ActivityDeps {
  db: Db;
  logger: Logger;
  client: Client;
  /** Signals in flight at once during a fan-out. */
  signalConcurrency?: number;
}

/** Side effects of the workflows, built from their dependencies. */
export function createActivities({ db, logger, client, signalConcurrency = 64 }: ActivityDeps) {
  return {
    /**
     * Writes the case's newest timeline to the read model, and which policy revisions the case has applied.
     * Idempotent: a retry, a replay or a late older snapshot changes nothing, because a case row only moves
     * forward in revision and a (case, policy, revision) pair is written once.
     */
    async recordCaseSnapshot({ workflowId, revision, timeline }: CaseSnapshot): Promise<void> {
      await writeCaseSnapshots(db, [{ workflowId, revision, timeline }]);
      logger.debug('case snapshot recorded', { caseId: timeline.caseId, revision, status: timeline.status });
    },

    /**
     * One page of a policy fan-out: lists open cases through visibility and signals each at a bounded rate.
     * Heartbeats how far it got, so a retry after a crash continues on the same page where it stopped.
     */
    async signalPolicyPage({ policy, query, pageToken, pageSize, signalsPerSecond }: PolicyPage): Promise<PolicyPageResult> {
      const context = Context.current();
      const resumed = (context.info.heartbeatDetails as PageHeartbeat | undefined) ?? { done: 0, signalled: 0, failed: 0 };
      const page = await client.workflowService.listWorkflowExecutions({
        namespace: client.options.namespace,
        query,
        pageSize,
        nextPageToken: pageToken ? Buffer.from(pageToken, 'base64') : undefined,
      });
      const runs = (page.executions ?? []).map((e) => ({ workflowId: e.execution!.workflowId!, runId: e.execution!.runId! }));
      const state = { ...resumed };
      const minimumGapMs = 1_000 / Math.max(1, signalsPerSecond);
      let nextSlot = Date.now();
      let cursor = resumed.done;
      const settled = new Set<number>();

      const signalRun = (workflowId: string, runId?: string) => client.workflow.getHandle(workflowId, runId).signal(policyChangeSignal, policy);
      const sendOne = async (index: number) => {
        // Bounded rate: each signal takes the next free time slot.
        const slot = Math.max(nextSlot, Date.now());
        nextSlot = slot + minimumGapMs;
        if (slot > Date.now()) await new Promise((r) => setTimeout(r, slot - Date.now()));
        const { workflowId, runId } = runs[index]!;
        try {
          // To the run that was listed: the server then need not look up the case's current run.
          await signalRun(workflowId, runId);
          state.signalled++;
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
          try {
            // That run ended after it was listed: the case continued as a new run, or it closed.
            await signalRun(workflowId);
            state.signalled++;
          } catch (again) {
            if (!(again instanceof WorkflowNotFoundError)) throw again;
            state.failed++; // the case closed after it was listed
          }
        }
        settled.add(index);
        // Everything below the first unsettled index is done; that is what a retry may skip.
        while (settled.has(state.done)) settled.delete(state.done++);
        context.heartbeat(state satisfies PageHeartbeat);
      };

      const workers = Array.from({ length: Math.min(signalConcurrency, runs.length) }, async () => {
        while (cursor < runs.length) {
          context.cancellationSignal.throwIfAborted();
          await sendOne(cursor++);
        }
      });
      await Promise.all(workers);
      const next = page.nextPageToken && page.nextPageToken.length > 0 ? Buffer.from(page.nextPageToken).toString('base64') : null;
      logger.info('policy page signalled', { policyId: policy.policyId, revision: policy.revision, cases: runs.length, resumedAt: resumed.done });
      return {
        matched: runs.length,
        signalled: state.signalled,
        failed: state.failed,
        nextPageToken: next,
      };
    },

    /** Keeps the registry's view of a fan-out current (what GET /api/v1/policy-changes shows). */
    async recordFanoutProgress(p: {
      workflowId: string;
      policyId: string;
      revision: number;
      kind: 'publish' | 'resend';
      status: 'running' | 'completed';
      progress: FanoutProgress;
    }): Promise<void> {
      await db.query(
        `INSERT INTO policy_fanouts (workflow_id, policy_id, revision, kind, status, matched, signalled, failed, late_starters, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
         ON CONFLICT (workflow_id) DO UPDATE SET status = EXCLUDED.status, matched = EXCLUDED.matched,
           signalled = EXCLUDED.signalled, failed = EXCLUDED.failed, late_starters = EXCLUDED.late_starters, updated_at = now()`,
        [
          p.workflowId,
          p.policyId,
          p.revision,
          p.kind,
          p.status,
          p.progress.matched,
          p.progress.signalled,
          p.progress.failed,
          p.progress.lateStarters,
        ],
      );
    },
  };
}

export type CaseActivities = ReturnType<typeof createActivities>;
