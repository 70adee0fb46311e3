import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { type PolicyRevision } from '../workflows/domain/types';
import { caseIdOfWorkflow, caseWorkflowId, policyChangeSignal } from '../workflows/messages';
import { type PolicyRegistry } from './policy-registry';
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
 * Signals the revision to each listed case, at most `signalsPerSecond` and `concurrency` at once, and with a
 * window, at most its `limit` signalled and not yet applied. A run that
 * ended after it was listed (the case continued as new) is signalled through the case's current run; a case
 * that has closed is counted as failed: it is no longer open, so it no longer lacks anything.
 */
export async function signalCases(
  client: Client,
  policy: PolicyRevision,
  runs: readonly ListedRun[],
  options: { signalsPerSecond: number; concurrency: number; window?: InFlightWindow; onSettled?: () => void; abort?: AbortSignal },
): Promise<{ signalled: number; failed: number }> {
  const result = { signalled: 0, failed: 0 };
  const minimumGapMs = 1_000 / Math.max(1, options.signalsPerSecond);
  let nextSlot = Date.now();
  let cursor = 0;
  const window = options.window ? inFlight(options.window, options.abort) : null;
  const signalRun = (workflowId: string, runId?: string) => client.workflow.getHandle(workflowId, runId).signal(policyChangeSignal, policy);
  const sendOne = async ({ workflowId, runId }: ListedRun) => {
    if (window) await window.admit(workflowId);
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
        window?.forget(workflowId);
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
  // The next page (its own activity) starts from an empty window, so this one waits for its own cases.
  await window?.drain();
  return result;
}

/**
 * A bound on the cases a fan-out has signalled that have not yet applied the revision. A case's workflow
 * tasks queue in the same task queue as those of the cases it signalled, so an event from a case system
 * waits behind at most `limit` of them instead of behind thousands: the fan-out follows what the workers
 * finish, whatever the load, where a fixed rate cannot.
 */
export interface InFlightWindow {
  limit: number;
  /** Which of these signalled cases have applied the revision (the read model's `case_policies`). */
  applied: (workflowIds: readonly string[]) => Promise<Iterable<string>>;
  /**
   * A case not seen to apply it within this long stops holding a place: a worker that is down, or a read
   * model that is behind, slows the fan-out without stopping it. The fan-out's counts still find the case.
   */
  expireMs: number;
  /** How often the read model is asked while the window is full. */
  pollMs: number;
  /** Called on every poll while the window is full (the activity heartbeats). */
  onWait?: () => void;
}

/** A signalled case not seen to apply the revision within this long stops holding a place in the window. */
const IN_FLIGHT_EXPIRY_MS = 30_000;
/** How often a full window asks the read model which of its cases have applied the revision. */
const IN_FLIGHT_POLL_MS = 50;

/** The window the fan-out and ops repair use: a case has applied the revision when `case_policies` says so. */
export function readModelWindow(registry: Pick<PolicyRegistry, 'appliedAmong'>, policy: PolicyRevision, limit: number, onWait?: () => void): InFlightWindow {
  return {
    limit,
    applied: async (workflowIds) => (await registry.appliedAmong(policy, workflowIds.map(caseIdOfWorkflow))).map(caseWorkflowId),
    expireMs: IN_FLIGHT_EXPIRY_MS,
    pollMs: IN_FLIGHT_POLL_MS,
    ...(onWait ? { onWait } : {}),
  };
}

function inFlight(window: InFlightWindow, abort?: AbortSignal) {
  const outstanding = new Map<string, number>();
  let polling: Promise<void> | null = null;
  const poll = async () => {
    const now = Date.now();
    for (const [id, sentAt] of outstanding) if (now - sentAt > window.expireMs) outstanding.delete(id);
    // A read model that cannot answer (Postgres down) confirms nothing: places then free by expiry alone.
    const applied = outstanding.size > 0 ? await window.applied([...outstanding.keys()]).catch(() => []) : [];
    for (const id of applied) outstanding.delete(id);
    window.onWait?.();
    if (outstanding.size >= window.limit) await new Promise((r) => setTimeout(r, window.pollMs));
  };
  const pollOnce = () => (polling ??= poll().finally(() => (polling = null)));
  return {
    /** Waits for a place and takes it; no await between the last check and the taking, so never above limit. */
    async admit(workflowId: string) {
      while (outstanding.size >= window.limit) {
        abort?.throwIfAborted();
        await pollOnce();
      }
      outstanding.set(workflowId, Date.now());
    },
    forget(workflowId: string) {
      outstanding.delete(workflowId);
    },
    async drain() {
      while (outstanding.size > 0) {
        abort?.throwIfAborted();
        await pollOnce();
        if (outstanding.size > 0 && outstanding.size < window.limit) await new Promise((r) => setTimeout(r, window.pollMs));
      }
    },
  };
}
