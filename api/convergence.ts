import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { writeCaseSnapshots } from '../activities/read-model';
import { countMissingCases, listMissingCases, signalCases } from '../platform/convergence';
import { type Db } from '../platform/db';
import { type PolicyRegistry, revisionContent } from '../platform/policy-registry';
import { caseWorkflowId, readModelSnapshotQuery } from '../workflows/messages';
import { CASE_RUNS_QUERY } from '../workflows/policy-queries';
import { ApiError } from './errors';
import { CaseIdKey, CaseRevisionKey } from '../workflows/search-attributes';
import { type PolicyService } from './policy-service';

/** Case ids named in a report at most (the counts are always whole). */
const SAMPLE = 20;

export interface PolicyConvergence {
  policyId: string;
  revision: number;
  /** Open cases the revision reaches that have not applied it. */
  missing: number;
  sample: string[];
}

export interface ReadModelConvergence {
  /** Case workflows compared (open cases and the last run of closed ones, as visibility lists them). */
  cases: number;
  /** Rows older than the workflow's change counter, or missing. */
  behind: number;
  /** Rows newer than the workflow's change counter (confirmed by asking the case): a restore from elsewhere, or a bug. */
  ahead: number;
  /** Runs that began before the change counter was published (CaseRevision unset): not compared; rebuild writes them. */
  unverified: number;
  sample: { caseId: string; workflow: number; row: number | null }[];
}

export interface VerifyReport {
  checkedAt: string;
  /** The newest revision of every policy. */
  policies: PolicyConvergence[];
  /** Fan-outs stored but never started. */
  pendingFanouts: string[];
  readModel: ReadModelConvergence;
  /** Nothing missing, nothing stale, nothing pending. */
  ok: boolean;
}

interface CaseRun {
  caseId: string;
  workflowId: string;
  /** CaseRevision as visibility shows it; null for a run from before it was published. */
  revision: number | null;
}

/**
 * Verify and repair, for operations (README, Verify and repair). Verify asks visibility, per newest policy
 * revision, for the open cases in scope that lack it, and compares every case's change counter (the
 * CaseRevision search attribute) with its read-model row. Repair starts pending fan-outs, signals the
 * missing cases and rewrites stale rows from the case's own snapshot (a query of the workflow).
 */
export function createConvergence({ client, db, registry, policies }: { client: Client; db: Db; registry: PolicyRegistry; policies: PolicyService }) {
  /** A page of case runs with their change counter (runs that began before it was published are skipped). */
  async function caseRuns(pageToken: string | null, pageSize: number): Promise<{ runs: CaseRun[]; nextPageToken: string | null }> {
    const token = pageToken ? Buffer.from(pageToken, 'base64') : undefined;
    if (pageToken && (token!.length === 0 || token!.toString('base64') !== pageToken.replace(/\s/g, ''))) {
      throw new ApiError(400, 'invalid-request', 'pageToken is not a page token this API gave', [{ field: 'pageToken', problem: 'not a page token from a previous answer' }]);
    }
    const page = await client.workflowService
      .listWorkflowExecutions({ namespace: client.options.namespace, query: CASE_RUNS_QUERY, pageSize, nextPageToken: token })
      .catch((err: unknown) => {
        // Temporal refuses a token it did not make as an invalid argument (gRPC status 3).
        if (pageToken && (err as { code?: number }).code === 3) throw new ApiError(400, 'invalid-request', 'pageToken is not a page token this API gave', [{ field: 'pageToken', problem: 'not a page token from a previous answer' }]);
        throw err;
      });
    const runs: CaseRun[] = [];
    for (const e of page.executions ?? []) {
      const fields = e.searchAttributes?.indexedFields ?? {};
      const decode = (name: string) => {
        const payload = fields[name];
        return payload?.data ? (JSON.parse(Buffer.from(payload.data).toString('utf8')) as unknown) : undefined;
      };
      const caseId = decode(CaseIdKey.name);
      const revision = decode(CaseRevisionKey.name);
      if (typeof caseId === 'string') runs.push({ caseId, workflowId: e.execution!.workflowId!, revision: typeof revision === 'number' ? revision : null });
    }
    const next = page.nextPageToken && page.nextPageToken.length > 0 ? Buffer.from(page.nextPageToken).toString('base64') : null;
    return { runs, nextPageToken: next };
  }

  async function rowRevisions(caseIds: string[]): Promise<Map<string, number>> {
    if (caseIds.length === 0) return new Map();
    const rows = await db.query<{ case_id: string; revision: number }>('SELECT case_id, revision FROM cases WHERE case_id = ANY($1)', [caseIds]);
    return new Map(rows.map((r) => [r.case_id, r.revision]));
  }

  /**
   * The stale ones among a page of runs: rows whose revision differs from the case's counter. Visibility may
   * lag the case (its row can be written before visibility shows the task's new counter), so each candidate
   * is confirmed by asking the case itself.
   */
  async function staleRuns(runs: CaseRun[]): Promise<{ run: CaseRun & { revision: number }; row: number | null }[]> {
    const rows = await rowRevisions(runs.map((r) => r.caseId));
    const candidates = runs.filter((run) => run.revision !== null && (rows.get(run.caseId) ?? null) !== run.revision);
    const confirmed = await Promise.all(
      candidates.map(async (run) => {
        const actual = await client.workflow
          .getHandle(run.workflowId)
          .query(readModelSnapshotQuery)
          .then((s) => s.revision, () => run.revision!);
        const row = (await rowRevisions([run.caseId])).get(run.caseId) ?? null;
        return { run: { ...run, revision: actual }, row };
      }),
    );
    return confirmed.filter(({ run, row }) => row !== run.revision);
  }

  /**
   * Writes a case's row from its own snapshot (the workflow's query). A row ahead of the workflow is replaced
   * (force); otherwise a row only moves forward, so a concurrent newer write by the case is never undone.
   */
  async function rewrite({ caseId, workflowId }: Pick<CaseRun, 'caseId' | 'workflowId'>): Promise<boolean> {
    try {
      // Read the row before asking the workflow: a row found ahead then was never written from this workflow
      // (its counter only grows), while a row that moves ahead afterwards is the case's own newer write.
      const before = (await rowRevisions([caseId])).get(caseId);
      const snapshot = await client.workflow.getHandle(workflowId).query(readModelSnapshotQuery);
      await writeCaseSnapshots(db, [snapshot], before !== undefined && before > snapshot.revision ? { replaceRevision: before } : {});
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  return {
    async verify(): Promise<VerifyReport> {
      const newest = await registry.latest();
      const policyReports = await Promise.all(
        newest.map(async (stored): Promise<PolicyConvergence> => {
          const policy = revisionContent(stored);
          const missing = await countMissingCases(client, policy);
          const sample = missing === 0 ? [] : (await listMissingCases(client, policy, null, SAMPLE)).runs.map((r) => r.workflowId);
          return { policyId: policy.policyId, revision: policy.revision, missing, sample };
        }),
      );
      const readModel: ReadModelConvergence = { cases: 0, behind: 0, ahead: 0, unverified: 0, sample: [] };
      let pageToken: string | null = null;
      do {
        const page = await caseRuns(pageToken, 1_000);
        readModel.cases += page.runs.length;
        readModel.unverified += page.runs.filter((r) => r.revision === null).length;
        for (const { run, row } of await staleRuns(page.runs)) {
          if (row !== null && row > run.revision) readModel.ahead++;
          else readModel.behind++;
          if (readModel.sample.length < SAMPLE) readModel.sample.push({ caseId: run.caseId, workflow: run.revision, row });
        }
        pageToken = page.nextPageToken;
      } while (pageToken !== null);
      const pendingFanouts = (await registry.pendingFanouts()).map((f) => f.workflowId);
      const ok = policyReports.every((p) => p.missing === 0) && readModel.behind === 0 && readModel.ahead === 0 && pendingFanouts.length === 0;
      return { checkedAt: new Date().toISOString(), policies: policyReports, pendingFanouts, readModel, ok };
    },

    /**
     * One round of repair, at most `limit` cases of each kind: starts pending fan-outs, signals the open cases
     * that lack a newest revision, rewrites stale rows. The CLI repeats rounds until verify is clean.
     */
    async repair(limit = 1_000): Promise<{ fanoutsStarted: number; signalled: number; rewritten: number }> {
      const pending = (await registry.pendingFanouts()).length;
      await policies.startPendingFanouts();
      const fanoutsStarted = pending - (await registry.pendingFanouts()).length;
      let signalled = 0;
      for (const stored of await registry.latest()) {
        const policy = revisionContent(stored);
        const { runs } = await listMissingCases(client, policy, null, limit);
        signalled += (await signalCases(client, policy, runs, { signalsPerSecond: 500, concurrency: 32 })).signalled;
      }
      let rewritten = 0;
      let pageToken: string | null = null;
      do {
        const page = await caseRuns(pageToken, 1_000);
        for (const { run } of await staleRuns(page.runs)) {
          if (rewritten >= limit) break;
          if (await rewrite(run)) rewritten++;
        }
        pageToken = rewritten >= limit ? null : page.nextPageToken;
      } while (pageToken !== null);
      return { fanoutsStarted, signalled, rewritten };
    },

    /**
     * Rebuilds the read model from Temporal, a page of cases at a time (after Postgres was restored from an
     * older backup): every case, open or closed, is written from its own snapshot.
     */
    async rebuildPage(pageToken: string | null, pageSize = 200): Promise<{ cases: number; rewritten: number; nextPageToken: string | null }> {
      const page = await caseRuns(pageToken, pageSize);
      let rewritten = 0;
      const queue = [...page.runs];
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          for (let run = queue.shift(); run; run = queue.shift()) if (await rewrite(run)) rewritten++;
        }),
      );
      return { cases: page.runs.length, rewritten, nextPageToken: page.nextPageToken };
    },

    /** The case's read-model snapshot as the workflow holds it (for tests and for support). */
    snapshotOf: (caseId: string) => client.workflow.getHandle(caseWorkflowId(caseId)).query(readModelSnapshotQuery),
  };
}

export type Convergence = ReturnType<typeof createConvergence>;
