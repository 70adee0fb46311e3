import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { type PolicyRevision } from '../workflows/domain/types';
import { policyChangeSignal } from '../workflows/messages';
import { missingRevisionQuery } from '../workflows/policy-queries';

/**
 * Listing and signalling the open cases that lack a policy revision, shared by the fan-out's activities and
 * ops repair (api/convergence.ts). Everything is asked of visibility by predicate, never resumed by position.
 */

export interface ListedRun {
  workflowId: string;
  runId: string;
}

/** One page of the open cases in the revision's scope that have not applied it. */
export async function listMissingCases(
  client: Client,
  policy: PolicyRevision,
  pageToken: string | null,
  pageSize: number,
): Promise<{ runs: ListedRun[]; nextPageToken: string | null }> {
  const page = await client.workflowService.listWorkflowExecutions({
    namespace: client.options.namespace,
    query: missingRevisionQuery(policy),
    pageSize,
    nextPageToken: pageToken ? Buffer.from(pageToken, 'base64') : undefined,
  });
  const runs = (page.executions ?? []).map((e) => ({ workflowId: e.execution!.workflowId!, runId: e.execution!.runId! }));
  const next = page.nextPageToken && page.nextPageToken.length > 0 ? Buffer.from(page.nextPageToken).toString('base64') : null;
  return { runs, nextPageToken: next };
}

/** How many open cases in the revision's scope have not applied it. */
export async function countMissingCases(client: Client, policy: PolicyRevision): Promise<number> {
  const { count } = await client.workflowService.countWorkflowExecutions({ namespace: client.options.namespace, query: missingRevisionQuery(policy) });
  return Number(count ?? 0);
}

/**
 * Signals the revision to each listed case, at most `signalsPerSecond` and `concurrency` at once. A run that
 * ended after it was listed (the case continued as new) is signalled through the case's current run; a case
 * that has closed is counted as failed: it is no longer open, so it no longer lacks anything.
 */
export async function signalCases(
  client: Client,
  policy: PolicyRevision,
  runs: readonly ListedRun[],
  options: { signalsPerSecond: number; concurrency: number; onSettled?: () => void; abort?: AbortSignal },
): Promise<{ signalled: number; failed: number }> {
  const result = { signalled: 0, failed: 0 };
  const minimumGapMs = 1_000 / Math.max(1, options.signalsPerSecond);
  let nextSlot = Date.now();
  let cursor = 0;
  const signalRun = (workflowId: string, runId?: string) => client.workflow.getHandle(workflowId, runId).signal(policyChangeSignal, policy);
  const sendOne = async ({ workflowId, runId }: ListedRun) => {
    const slot = Math.max(nextSlot, Date.now());
    nextSlot = slot + minimumGapMs;
    if (slot > Date.now()) await new Promise((r) => setTimeout(r, slot - Date.now()));
    try {
      // To the run that was listed: the server then need not look up the case's current run.
      await signalRun(workflowId, runId);
      result.signalled++;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      try {
        await signalRun(workflowId);
        result.signalled++;
      } catch (again) {
        if (!(again instanceof WorkflowNotFoundError)) throw again;
        result.failed++;
      }
    }
    options.onSettled?.();
  };
  const workers = Array.from({ length: Math.min(options.concurrency, runs.length) }, async () => {
    while (cursor < runs.length) {
      options.abort?.throwIfAborted();
      await sendOne(runs[cursor++]!);
    }
  });
  await Promise.all(workers);
  return result;
}
