import { type Client } from '@temporalio/client';
import { type CaseSnapshot, writeCurrentSnapshots } from '../../activities/read-model';
import { type Db } from '../../platform/db';
import { applyToCases, countMissingCases, listMissingCases } from '../../policies/convergence';
import { type PolicyRegistry, revisionContent } from '../../policies/registry';
import { caseWorkflowId, readModelSnapshotQuery } from '../../workflows/messages';
import { type PolicyService } from '../policy-service';
import { casePolicyProblems, repairCasePolicies } from './case-policies';
import { closeDeadFanouts, deadFanouts } from './dead-fanouts';
import { type CaseRun, createReadModelCheck } from './read-model-check';
import { type PolicyConvergence, type ReadModelConvergence, type RepairRound, type RowProblem, SAMPLE, type VerifyReport } from './report';

/** Cases started less than this long ago may not have run yet: verify does not report them as not run. */
const DEFAULT_GRACE_SECONDS = 120;

/**
 * Verify and repair, for operations (README, Verify and repair). Verify asks visibility, per newest policy
 * revision, for the open cases in scope that lack it, and compares every case's change counter (the
 * CaseRevision search attribute) with its read-model row. Repair starts pending fan-outs, applies the
 * revision to the missing cases within the fan-out's window and rate, and rewrites stale rows from the case's
 * own snapshot (a query of the workflow).
 */
export function createOpsService({ client, db, registry, policies }: { client: Client; db: Db; registry: PolicyRegistry; policies: PolicyService }) {
  const { caseRuns, staleRuns, suspects, confirm, notRunRuns, rewrite } = createReadModelCheck({ client, db });

  return {
    async verify({ graceSeconds = DEFAULT_GRACE_SECONDS }: { graceSeconds?: number } = {}): Promise<VerifyReport> {
      const newest = await registry.latest();
      const policyReports = await Promise.all(
        newest.map(async (stored): Promise<PolicyConvergence> => {
          const policy = revisionContent(stored);
          const missing = await countMissingCases(client, policy);
          const sample = missing === 0 ? [] : (await listMissingCases(client, policy, null, SAMPLE)).runs.map((r) => r.workflowId);
          return { policyId: policy.policyId, revision: policy.revision, missing, sample };
        }),
      );
      const readModel: ReadModelConvergence = { cases: 0, behind: 0, ahead: 0, differs: 0, altered: 0, notRun: 0, unverified: 0, unfingerprinted: 0, sample: [] };
      const note = (caseId: string, problem: RowProblem, workflow: number | null, row: number | null) => {
        if (readModel.sample.length < SAMPLE) readModel.sample.push({ caseId, problem, workflow, row });
      };
      let pageToken: string | null = null;
      const suspect: (CaseRun & { revision: number })[] = [];
      do {
        const page = await caseRuns(pageToken, 1_000);
        readModel.cases += page.runs.length;
        readModel.unfingerprinted += page.runs.filter((r) => r.revision !== null && r.fingerprint === null).length;
        const notRun = await notRunRuns(page.runs, graceSeconds);
        readModel.unverified += page.runs.filter((r) => r.revision === null).length - notRun.length;
        for (const run of notRun) {
          readModel.notRun++;
          note(run.caseId, 'not-run', null, null);
        }
        suspect.push(...(await suspects(page.runs)));
        pageToken = page.nextPageToken;
      } while (pageToken !== null);
      for (const { run, problem, workflow, row } of await confirm(suspect)) {
        readModel[problem === 'not-run' ? 'notRun' : problem]++;
        note(run.caseId, problem, workflow, row);
      }
      const dead = (await deadFanouts(client, db)).map((d) => d.workflowId);
      const pendingFanouts = (await registry.pendingFanouts()).map((f) => f.workflowId).filter((id) => !dead.includes(id));
      const casePolicies = await casePolicyProblems(db);
      const rowProblems = readModel.behind + readModel.ahead + readModel.differs + readModel.altered + readModel.notRun;
      const ok =
        policyReports.every((p) => p.missing === 0) &&
        rowProblems === 0 &&
        casePolicies.stale + casePolicies.missing === 0 &&
        pendingFanouts.length === 0 &&
        dead.length === 0;
      return { checkedAt: new Date().toISOString(), graceSeconds, policies: policyReports, pendingFanouts, deadFanouts: dead, readModel, casePolicies, ok };
    },

    /**
     * One round of repair, at most `limit` cases of each kind: starts pending fan-outs, closes the rows of
     * dead ones (completed from the workflow's result, else abandoned: the cases they left are reached here),
     * applies a newest revision to the open cases that lack it, rewrites stale rows, and makes case_policies
     * follow the rows. The revision goes to the cases as a fan-out page sends it (applyToCases): by Update, at
     * most FANOUT_MAX_IN_FLIGHT at once and FANOUT_SIGNALS_PER_SECOND a second, so a case system's event
     * waits behind as few during a repair as during a fan-out; each Update's snapshot is written here.
     */
    async repair(limit = 1_000): Promise<RepairRound> {
      const pending = (await registry.pendingFanouts()).length;
      await policies.startPendingFanouts();
      const fanoutsStarted = pending - (await registry.pendingFanouts()).length;
      const fanoutsClosed = await closeDeadFanouts(client, db, await deadFanouts(client, db));
      let signalled = 0;
      const { perSecond, maxInFlight } = policies.fanoutBounds;
      const write = (snapshot: CaseSnapshot) => writeCurrentSnapshots(db, client, [snapshot]);
      for (const stored of await registry.latest()) {
        const policy = revisionContent(stored);
        const { runs } = await listMissingCases(client, policy, null, limit);
        const applied = await applyToCases(client, policy, runs.map((r) => r.workflowId), { concurrency: maxInFlight, perSecond, write });
        signalled += applied.applied + applied.had;
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
      const casePoliciesFixed = await repairCasePolicies(db);
      return { fanoutsStarted, fanoutsClosed, signalled, rewritten, casePoliciesFixed };
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

export type OpsService = ReturnType<typeof createOpsService>;
