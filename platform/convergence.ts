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

/** What a page of signals did; `unsent` cases were left for the fan-out's next pass (its time budget ran out). */
export interface SignalResult {
  signalled: number;
  failed: number;
  unsent: number;
}

/**
 * Signals the revision to each listed case, at most `signalsPerSecond` and `concurrency` at once, and with a
 * window, at most its `limit` signalled and not yet applied. A run that ended after it was listed (the case
 * continued as new) is signalled through the case's current run; a case that has closed is counted as failed:
 * it is no longer open, so it no longer lacks anything. After `budgetMs` no further case is taken: the rest
 * are `unsent`, still in the fan-out's set, and found by its next pass. The first error stops every sender
 * before it is thrown, so a retry never runs beside the senders of the attempt it replaces.
 */
export async function signalCases(
  client: Client,
  policy: PolicyRevision,
  runs: readonly ListedRun[],
  options: { signalsPerSecond: number; concurrency: number; window?: InFlightWindow; budgetMs?: number; onSettled?: () => void; abort?: AbortSignal },
): Promise<SignalResult> {
  const result = { signalled: 0, failed: 0 };
  const minimumGapMs = 1_000 / Math.max(1, options.signalsPerSecond);
  const stop = new AbortController();
  const abort = options.abort ? AbortSignal.any([options.abort, stop.signal]) : stop.signal;
  const endsAt = options.budgetMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.budgetMs;
  let nextSlot = Date.now();
  let cursor = 0;
  const window = options.window ? inFlight(options.window, abort, endsAt) : null;
  const signalRun = (workflowId: string, runId?: string) => client.workflow.getHandle(workflowId, runId).signal(policyChangeSignal, policy);
  const sendOne = async ({ workflowId, runId }: ListedRun) => {
    const slot = Math.max(nextSlot, Date.now());
    nextSlot = slot + minimumGapMs;
    if (slot > Date.now()) await new Promise((r) => setTimeout(r, slot - Date.now()));
    abort.throwIfAborted();
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
        window?.release(workflowId);
        result.failed++;
      }
    }
    window?.signalled(workflowId);
    options.onSettled?.();
  };
  const workers = Array.from({ length: Math.min(options.concurrency, runs.length) }, async () => {
    while (cursor < runs.length && Date.now() < endsAt) {
      abort.throwIfAborted();
      const run = runs[cursor++]!;
      // A case taken when the budget ran out stays unsent, like those after it.
      if (window && !(await window.admit(run.workflowId))) return;
      try {
        await sendOne(run);
      } catch (err) {
        window?.release(run.workflowId);
        stop.abort(err);
        throw err;
      }
    }
  });
  await Promise.all(workers);
  // The next page (its own activity) starts from an empty window, so this one waits for its own cases.
  await window?.drain();
  return { ...result, unsent: runs.length - result.signalled - result.failed };
}

/**
 * A bound on the cases a fan-out has signalled that have not yet applied the revision. A case's workflow
 * tasks queue in the same task queue as those of the cases it signalled, so an event from a case system
 * waits behind at most `limit` of them instead of behind thousands: the fan-out follows what the workers
 * finish, whatever the load, where a fixed rate cannot. The bound is per page being signalled: two fan-outs
 * running at once hold a window each.
 */
export interface InFlightWindow {
  limit: number;
  /** Which of these signalled cases have applied the revision (the read model's `case_policies`). */
  applied: (workflowIds: readonly string[]) => Promise<Iterable<string>>;
  /**
   * A case not seen to apply it within this long after its signal stops holding a place: a worker that is
   * down, or a read model that is behind, slows the fan-out without stopping it. The fan-out's counts still
   * find the case.
   */
  expireMs: number;
  /** How often the read model is asked while the window is full. */
  pollMs: number;
  /** Called on every poll while the window is full (the activity heartbeats). */
  onWait?: () => void;
  /** Places freed by expiry, and questions the read model did not answer in time: the window is not confirming. */
  onDegraded?: (what: { expired: number } | { unanswered: unknown }) => void;
}

/** A signalled case not seen to apply the revision within this long stops holding a place in the window. */
const IN_FLIGHT_EXPIRY_MS = 30_000;
/** How often a full window asks the read model which of its cases have applied the revision. */
const IN_FLIGHT_POLL_MS = 50;
/** A read-model question that takes longer counts as unanswered (a hung connection must not stall the window). */
const IN_FLIGHT_QUESTION_TIMEOUT_MS = 2_000;

/** The fan-out's window: a case has applied the revision when `case_policies` says so. */
export function readModelWindow(
  registry: Pick<PolicyRegistry, 'appliedAmong'>,
  policy: PolicyRevision,
  limit: number,
  hooks: Pick<InFlightWindow, 'onWait' | 'onDegraded'> = {},
): InFlightWindow {
  return {
    limit,
    applied: async (workflowIds) => (await registry.appliedAmong(policy, workflowIds.map(caseIdOfWorkflow))).map(caseWorkflowId),
    expireMs: IN_FLIGHT_EXPIRY_MS,
    pollMs: IN_FLIGHT_POLL_MS,
    ...hooks,
  };
}

function inFlight(window: InFlightWindow, abort: AbortSignal, endsAt: number) {
  /** Workflow id to when its signal went out; NaN while it is being sent (it cannot expire before that). */
  const outstanding = new Map<string, number>();
  let polling: Promise<void> | null = null;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const ask = async (ids: string[]): Promise<Iterable<string>> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        window.applied(ids),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${IN_FLIGHT_QUESTION_TIMEOUT_MS} ms`)), IN_FLIGHT_QUESTION_TIMEOUT_MS))),
      ]);
    } catch (err) {
      // A read model that cannot answer (Postgres down) confirms nothing: places then free by expiry alone.
      window.onDegraded?.({ unanswered: err });
      return [];
    } finally {
      clearTimeout(timer);
    }
  };
  const poll = async () => {
    const now = Date.now();
    let expired = 0;
    for (const [id, sentAt] of outstanding) {
      if (now - sentAt > window.expireMs) {
        outstanding.delete(id);
        expired++;
      }
    }
    if (expired > 0) window.onDegraded?.({ expired });
    const sent = [...outstanding].filter(([, sentAt]) => !Number.isNaN(sentAt)).map(([id]) => id);
    if (sent.length > 0) for (const id of await ask(sent)) outstanding.delete(id);
    window.onWait?.();
    if (outstanding.size >= window.limit) await sleep(window.pollMs);
  };
  const pollOnce = () => (polling ??= poll().finally(() => (polling = null)));
  return {
    /**
     * Waits for a place and takes it (no await between the last check and the taking, so never above the
     * limit); false when the time budget ran out first.
     */
    async admit(workflowId: string): Promise<boolean> {
      while (outstanding.size >= window.limit) {
        abort.throwIfAborted();
        if (Date.now() >= endsAt) return false;
        await pollOnce();
      }
      outstanding.set(workflowId, Number.NaN);
      return true;
    },
    signalled(workflowId: string) {
      if (outstanding.has(workflowId)) outstanding.set(workflowId, Date.now());
    },
    release(workflowId: string) {
      outstanding.delete(workflowId);
    },
    async drain() {
      while (outstanding.size > 0) {
        abort.throwIfAborted();
        await pollOnce();
        if (outstanding.size > 0 && outstanding.size < window.limit) await sleep(window.pollMs);
      }
    },
  };
}
