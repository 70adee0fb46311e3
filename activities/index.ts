import { Context } from '@temporalio/activity';
import { type Client } from '@temporalio/client';
import { applyToCases, countMissingCases, listMissingCases, readModelWindow, signalCases, unwrittenCases } from '../policies/convergence';
import { DEFAULT_FANOUT_MAX_IN_FLIGHT } from '../platform/config';
import { type Db } from '../platform/db';
import { type Logger } from '../platform/logger';
import { createPolicyRegistry } from '../policies/registry';
import { type PolicyRevision } from '../workflows/domain/types';
import { type FanoutProgress } from '../workflows/messages';
import { groupCommit } from './group-commit';
import { type CaseSnapshot, writeCurrentSnapshots } from './read-model';

export type { CaseSnapshot } from './read-model';

export interface MissingPage {
  policy: PolicyRevision;
  /** Base64 visibility page token of this pass; null for its first page. */
  pageToken: string | null;
  pageSize: number;
  signalsPerSecond: number;
}

export interface MissingPageResult {
  /** A newer revision of the policy was published: its fan-out takes over. */
  superseded: boolean;
  listed: number;
  signalled: number;
  failed: number;
  /** Left for the next pass: the page's time budget ran out while the window waited on the workers. */
  unsent: number;
  nextPageToken: string | null;
}

export interface ApplyPageResult {
  superseded: boolean;
  listed: number;
  applied: number;
  /** Cases that had the revision already; their snapshot was written. */
  had: number;
  failed: number;
  unsent: number;
  /** Visibility's page token, or the last case id of a read-model page; null after the last page. */
  next: string | null;
}

export interface ActivityDeps {
  db: Db;
  logger: Logger;
  client: Client;
  /** Signals in flight at once during a fan-out. */
  signalConcurrency?: number;
  /** At most this many cases a fan-out page has signalled that have not applied it yet (FANOUT_MAX_IN_FLIGHT). */
  fanoutMaxInFlight?: number;
}

/** A page stops taking cases after this long (the activity's start-to-close timeout is 15 minutes). */
const PAGE_BUDGET_MS = 10 * 60_000;
/** How often a page being signalled looks for a newer revision of its policy. */
const SUPERSEDED_CHECK_MS = 5_000;

/** Side effects of the workflows, built from their dependencies. */
export function createActivities({ db, logger, client, signalConcurrency = 64, fanoutMaxInFlight = DEFAULT_FANOUT_MAX_IN_FLIGHT }: ActivityDeps) {
  const registry = createPolicyRegistry(db);
  // Snapshots of many cases written at about the same moment share one statement (group commit): a batch
  // costs Postgres far less a case than one statement a case (docs/capacity.md, Postgres: the read model).
  // A failed statement fails every activity in it, and Temporal retries each.
  const writeSnapshot = groupCommit((batch: CaseSnapshot[]) => writeCurrentSnapshots(db, client, batch), { maxBatch: 200, maxInFlight: 2, lingerMs: 5 });
  const superseded = async (policy: PolicyRevision) => (await registry.newestRevision(policy.policyId)) > policy.revision;
  /**
   * A page waits on the workers for as long as they take, so a newer revision is looked for while it runs, not
   * only when it begins: the newer revision's fan-out then has the workers to itself. `signal` aborts then.
   */
  const watchSuperseded = (policy: PolicyRevision) => {
    const stop = new AbortController();
    let overtaken = false;
    const timer = setInterval(() => {
      superseded(policy).then(
        (yes) => {
          if (yes) {
            overtaken = true;
            stop.abort();
          }
        },
        () => undefined,
      );
    }, SUPERSEDED_CHECK_MS);
    return { signal: stop.signal, overtaken: () => overtaken, stop: () => clearInterval(timer) };
  };

  return {
    /**
     * Writes the case's newest timeline to the read model, and which policy revisions the case holds.
     * Idempotent: a retry, a replay or a late older snapshot changes nothing, because within a run a case row
     * only moves forward in revision, and a run that is no longer current never replaces the row.
     */
    async recordCaseSnapshot(snapshot: CaseSnapshot): Promise<void> {
      await writeSnapshot(snapshot);
      logger.debug('case snapshot recorded', { caseId: snapshot.timeline.caseId, revision: snapshot.revision, status: snapshot.timeline.status });
    },

    /**
     * What a case asks in its first task (OPEN_IN_ONE_TASK): the newest revisions published after its copy of
     * the registry that reach its municipality, and the registry position the answer is as of.
     */
    async registryAfter({ position, municipality }: { position: number; municipality: string }): Promise<{ position: number; policies: PolicyRevision[] }> {
      return registry.publishedBetween(position, municipality);
    },

    /** The newest revisions published after a case's copy of the registry that reach its municipality. */
    async policiesPublishedAfter({ position, municipality }: { position: number; municipality: string }): Promise<PolicyRevision[]> {
      return registry.publishedAfter(position, municipality);
    },

    /**
     * One page of a fan-out pass: the open cases in scope that visibility shows without the revision, each
     * signalled at a bounded rate. A retry lists the page again by the same predicate.
     */
    async signalMissingCases({ policy, pageToken, pageSize, signalsPerSecond }: MissingPage): Promise<MissingPageResult> {
      const none = { listed: 0, signalled: 0, failed: 0, unsent: 0, nextPageToken: null };
      if (await superseded(policy)) return { superseded: true, ...none };
      const context = Context.current();
      const { runs, nextPageToken } = await listMissingCases(client, policy, pageToken, pageSize);
      let settled = 0;
      const degraded = { expired: 0, unanswered: 0 };
      const watch = watchSuperseded(policy);
      try {
        const result = await signalCases(client, policy, runs, {
          signalsPerSecond,
          concurrency: signalConcurrency,
          window: readModelWindow(registry, policy, fanoutMaxInFlight, {
            onWait: () => context.heartbeat(settled),
            onDegraded: (what) => ('expired' in what ? (degraded.expired += what.expired) : degraded.unanswered++),
          }),
          budgetMs: PAGE_BUDGET_MS,
          abort: AbortSignal.any([context.cancellationSignal, watch.signal]),
          onSettled: () => context.heartbeat(++settled),
        });
        const fields = { policyId: policy.policyId, revision: policy.revision, cases: runs.length, ...result };
        if (degraded.expired > 0 || degraded.unanswered > 0) {
          logger.warn('policy page signalled without the read model confirming: its window freed places by expiry', { ...fields, ...degraded });
        } else {
          logger.info('policy page signalled', fields);
        }
        return { superseded: false, listed: runs.length, ...result, nextPageToken };
      } catch (err) {
        if (watch.overtaken()) return { superseded: true, ...none };
        throw err;
      } finally {
        watch.stop();
      }
    },

    /**
     * One page of a fan-out pass by Update: the open cases in scope that visibility shows without the revision
     * (`source: 'visibility'`), or whose read-model row does not hold it (`source: 'read-model'`), each applied
     * by Update and its snapshot written here, many cases to a statement. At most the window's cases are in
     * flight at once, so a case system's event waits behind at most that many. A retry lists the page again
     * by the same predicate.
     */
    async applyMissingCases({ policy, source, from, pageSize, signalsPerSecond }: { policy: PolicyRevision; source: 'visibility' | 'read-model'; from: string | null; pageSize: number; signalsPerSecond: number }): Promise<ApplyPageResult> {
      const none = { listed: 0, applied: 0, had: 0, failed: 0, unsent: 0, next: null };
      if (await superseded(policy)) return { superseded: true, ...none };
      const context = Context.current();
      const page =
        source === 'visibility'
          ? await listMissingCases(client, policy, from, pageSize).then(({ runs, nextPageToken }) => ({ workflowIds: runs.map((r) => r.workflowId), next: nextPageToken }))
          : await unwrittenCases(db, policy, from, pageSize).then(({ workflowIds, lastCaseId }) => ({ workflowIds, next: workflowIds.length < pageSize ? null : lastCaseId }));
      let settled = 0;
      const watch = watchSuperseded(policy);
      // Alive while Updates are slow too, not only when a case settles.
      const beat = setInterval(() => context.heartbeat(settled), SUPERSEDED_CHECK_MS);
      try {
        const result = await applyToCases(client, policy, page.workflowIds, {
          concurrency: fanoutMaxInFlight,
          perSecond: signalsPerSecond,
          write: writeSnapshot,
          budgetMs: PAGE_BUDGET_MS,
          abort: AbortSignal.any([context.cancellationSignal, watch.signal]),
          onSettled: () => context.heartbeat(++settled),
        });
        logger.info('policy page applied', { policyId: policy.policyId, revision: policy.revision, source, cases: page.workflowIds.length, ...result });
        // Cases a read-model page left when its time ran out still lack the revision in their row: the next page
        // lists from where this one began, and the predicate leaves out those done. (Visibility's next pass
        // finds a visibility page's.)
        const next = source === 'read-model' && result.unsent > 0 ? from : page.next;
        return { superseded: false, listed: page.workflowIds.length, ...result, next };
      } catch (err) {
        if (watch.overtaken()) return { superseded: true, ...none };
        throw err;
      } finally {
        watch.stop();
        clearInterval(beat);
      }
    },

    /** How many open cases in scope have not applied the revision (visibility's count). */
    async countMissingCases({ policy }: { policy: PolicyRevision }): Promise<{ superseded: boolean; missing: number }> {
      if (await superseded(policy)) return { superseded: true, missing: 0 };
      return { superseded: false, missing: await countMissingCases(client, policy) };
    },

    /** Keeps the registry's view of a fan-out current (what GET /api/v1/policy-changes shows). */
    async recordFanoutProgress(p: {
      workflowId: string;
      policyId: string;
      revision: number;
      kind: 'publish' | 'resend';
      status: 'running' | 'completed' | 'superseded';
      progress: FanoutProgress;
    }): Promise<void> {
      await db.query(
        `INSERT INTO policy_fanouts (workflow_id, policy_id, revision, kind, status, matched, signalled, failed, late_starters, passes, missing, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now())
         ON CONFLICT (workflow_id) DO UPDATE SET status = EXCLUDED.status, matched = EXCLUDED.matched,
           signalled = EXCLUDED.signalled, failed = EXCLUDED.failed, late_starters = EXCLUDED.late_starters,
           passes = EXCLUDED.passes, missing = EXCLUDED.missing, updated_at = now()`,
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
          p.progress.passes,
          p.progress.missing,
        ],
      );
    },
  };
}

export type CaseActivities = ReturnType<typeof createActivities>;
