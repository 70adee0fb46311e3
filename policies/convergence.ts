import { type Client, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { type PolicyRevision } from '../workflows/domain/types';
import type { CaseSnapshot } from '../activities/read-model';
import { coveredMunicipalities } from '../workflows/domain/policy-scope';
import { applyPolicyWrittenByCallerUpdate, caseIdOfWorkflow, caseWorkflowId, policyChangeSignal, readModelSnapshotQuery } from '../workflows/messages';
import { type Db } from '../platform/db';
import { type PolicyRegistry } from './registry';
import { missingRevisionQuery } from '../workflows/policy-queries';

/**
 * Listing and signalling the open cases that lack a policy revision, shared by the fan-out's activities and
 * ops repair (api/ops/service.ts). Everything is asked of visibility by predicate, never resumed by position.
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
 * One page, in case id order after `afterCaseId`, of the cases whose read-model row is open and in the
 * revision's scope but does not hold the revision: a case whose Update completed while its caller died before
 * writing the row, or one whose own write is still to come. Level-triggered like the visibility pass: a case
 * leaves the set when its row holds the revision (or shows it closed), whatever wrote it.
 */
export async function unwrittenCases(db: Db, policy: PolicyRevision, afterCaseId: string | null, pageSize: number): Promise<{ workflowIds: string[]; lastCaseId: string | null }> {
  const codes = coveredMunicipalities(policy);
  const rows = await db.query<{ case_id: string; workflow_id: string }>(
    `SELECT c.case_id, c.workflow_id FROM cases c
     WHERE c.status <> 'closed' AND ($1::text[] IS NULL OR c.municipality = ANY($1)) AND ($2::text IS NULL OR c.case_id > $2)
       AND NOT EXISTS (SELECT 1 FROM case_policies cp WHERE cp.case_id = c.case_id AND cp.policy_id = $3 AND cp.revision = $4)
     ORDER BY c.case_id LIMIT $5`,
    [codes, afterCaseId, policy.policyId, policy.revision, pageSize],
  );
  return { workflowIds: rows.map((r) => r.workflow_id), lastCaseId: rows.at(-1)?.case_id ?? null };
}

/** How long one case's Update may take before the page moves on without it. */
const UPDATE_DEADLINE_MS = 60_000;
/** gRPC DEADLINE_EXCEEDED (4), as the client reports it directly or as the cause of a ServiceError. */
const deadlineExceeded = (err: unknown) => [(err as { code?: number }).code, (err as { cause?: { code?: number } }).cause?.code].includes(4);

/** What a page of Updates did; `unsent` cases were left for the fan-out's next pass (its time budget ran out). */
export interface ApplyResult {
  /** Cases that applied the revision now. */
  applied: number;
  /** Cases that had it (an earlier attempt's Update completed; its row is written now). */
  had: number;
  /** Cases that have closed (their last snapshot is written), or are gone, or refused the revision. */
  failed: number;
  unsent: number;
}

/**
 * Applies the revision to each listed case by Update, at most `concurrency` at once and `perSecond` a
 * second, and hands each snapshot the Update returns to `write` (the read model's group commit): the case
 * schedules no write of its own for it. An Update returns only once the case's workflow task that applied it
 * has completed, so a row is never ahead of what Temporal recorded. If the caller dies between the Update
 * and the write, the case has the revision and its row does not: the fan-out's read-model pass finds it by
 * that (unwrittenCases), and the same Update again answers `applied: false` with the snapshot to write.
 * A case that has closed gets its last snapshot written (queried), so its row stops counting as open.
 */
export async function applyToCases(
  client: Client,
  policy: PolicyRevision,
  workflowIds: readonly string[],
  options: { concurrency: number; perSecond: number; write: (snapshot: CaseSnapshot) => Promise<void>; budgetMs?: number; onSettled?: () => void; abort?: AbortSignal },
): Promise<ApplyResult> {
  const result = { applied: 0, had: 0, failed: 0 };
  const pace = pacing(options);
  const applyOne = async (workflowId: string) => {
    await pace.turn();
    const handle = client.workflow.getHandle(workflowId);
    try {
      // A case whose tasks keep failing never answers; the page moves on and the case stays in the set.
      const { applied, snapshot } = await client.withDeadline(Date.now() + UPDATE_DEADLINE_MS, () => handle.executeUpdate(applyPolicyWrittenByCallerUpdate, { args: [policy] }));
      await options.write(snapshot);
      if (applied) result.applied++;
      else result.had++;
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError || deadlineExceeded(err)) {
        // The case refused it (its validator), or did not answer in time: nothing to write now.
        result.failed++;
      } else if (err instanceof WorkflowNotFoundError) {
        // Closed after it was listed, or gone: a case that completed gets its last snapshot written, so its row
        // shows it closed and leaves the set. One terminated or gone is not asked (a query would replay it).
        const status = await handle.describe().then((d) => d.status.name, (e: unknown) => (e instanceof WorkflowNotFoundError ? null : Promise.reject(e)));
        const last = status === 'COMPLETED' ? await handle.query(readModelSnapshotQuery).catch(() => null) : null;
        if (last) await options.write(last);
        result.failed++;
      } else {
        throw err;
      }
    }
    options.onSettled?.();
  };
  await pace.run(workflowIds, options.concurrency, applyOne);
  return { ...result, unsent: workflowIds.length - result.applied - result.had - result.failed };
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
  const pace = pacing({ ...options, perSecond: options.signalsPerSecond });
  const window = options.window ? inFlight(options.window, pace.abort, pace.endsAt) : null;
  const signalRun = (workflowId: string, runId?: string) => client.workflow.getHandle(workflowId, runId).signal(policyChangeSignal, policy);
  const sendOne = async ({ workflowId, runId }: ListedRun) => {
    await pace.turn();
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
  await pace.run(runs, options.concurrency, sendOne, {
    // A case taken when the budget ran out stays unsent, like those after it.
    admit: window ? (run) => window.admit(run.workflowId) : undefined,
    failed: (run) => window?.release(run.workflowId),
  });
  // The next page (its own activity) starts from an empty window, so this one waits for its own cases.
  await window?.drain();
  return { ...result, unsent: runs.length - result.signalled - result.failed };
}

/**
 * The pacing both senders of a page share (applyToCases, signalCases): one turn every 1/`perSecond` s across
 * all runners, no item taken after `budgetMs`, and the first error stopping every runner before it is thrown, so a
 * retry never runs beside the runners of the attempt it replaces. `abort` ends the waits of a stopped page.
 */
function pacing(options: { perSecond: number; budgetMs?: number; abort?: AbortSignal }) {
  const minimumGapMs = 1_000 / Math.max(1, options.perSecond);
  const stop = new AbortController();
  const abort = options.abort ? AbortSignal.any([options.abort, stop.signal]) : stop.signal;
  const endsAt = options.budgetMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.budgetMs;
  let nextSlot = Date.now();
  return {
    abort,
    endsAt,
    /** Waits for the next slot of the rate, then throws if the page was stopped meanwhile. */
    async turn(): Promise<void> {
      const slot = Math.max(nextSlot, Date.now());
      nextSlot = slot + minimumGapMs;
      if (slot > Date.now()) await new Promise((r) => setTimeout(r, slot - Date.now()));
      abort.throwIfAborted();
    },
    /**
     * Runs `one` over `items`, `concurrency` at a time, in order, until the budget ends. `admit` false ends a
     * runner (its item and those after it stay unsent); `failed` is told of the item whose error stops the page.
     */
    async run<T>(items: readonly T[], concurrency: number, one: (item: T) => Promise<void>, hooks: { admit?: (item: T) => Promise<boolean>; failed?: (item: T) => void } = {}): Promise<void> {
      let cursor = 0;
      const runners = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
        while (cursor < items.length && Date.now() < endsAt) {
          abort.throwIfAborted();
          const item = items[cursor++]!;
          if (hooks.admit && !(await hooks.admit(item))) return;
          try {
            await one(item);
          } catch (err) {
            hooks.failed?.(item);
            stop.abort(err);
            throw err;
          }
        }
      });
      await Promise.all(runners);
    },
  };
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
