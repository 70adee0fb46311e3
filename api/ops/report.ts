/**
 * What ops verify and ops repair report (GET /api/v1/ops/verify, POST /api/v1/ops/repair; api/ops/service.ts),
 * as the API answers them and the ops CLI prints them.
 */

/** Case ids named in a report at most (the counts are always whole). */
export const SAMPLE = 20;

export interface PolicyConvergence {
  policyId: string;
  revision: number;
  /** Open cases the revision reaches that have not applied it. */
  missing: number;
  sample: string[];
}

/** What is wrong with a case's read-model row, compared with the case itself. */
export type RowProblem =
  /** No row, or a row older than the case's change counter in the same run. */
  | 'behind'
  /** A row newer than the case's counter in the same run: a restore from elsewhere, or a bug. */
  | 'ahead'
  /** A row from another run than the case's current one (a reset), or at the case's revision with other content. */
  | 'differs'
  /** A row whose columns do not match its own timeline and fingerprint: edited by hand, or written by a bug. */
  | 'altered'
  /** A case older than the grace period that never published its change counter and has no row: its first task has not run. */
  | 'not-run';

export interface ReadModelConvergence {
  /** Case runs compared (open cases and the last run of closed ones, as visibility lists them). */
  cases: number;
  behind: number;
  ahead: number;
  differs: number;
  altered: number;
  notRun: number;
  /** Runs that began before the change counter was published (CaseRevision unset) and have a row: compared by rebuild only. */
  unverified: number;
  /** Runs that began before the fingerprint was published and have not changed since: compared by revision and run only. */
  unfingerprinted: number;
  sample: { caseId: string; problem: RowProblem; workflow: number | null; row: number | null }[];
}

export interface CasePolicyConvergence {
  /** case_policies rows for a revision the case's row does not hold (or for a case without a row). */
  stale: number;
  /** Revisions a case's row holds that case_policies lacks (the fan-out's window and the counts read it). */
  missing: number;
  sample: { caseId: string; policyId: string; revision: number; problem: 'stale' | 'missing' }[];
}

export interface VerifyReport {
  checkedAt: string;
  /** Cases started less than this long ago may not have run yet, and are not reported as not run. */
  graceSeconds: number;
  /** The newest revision of every policy. */
  policies: PolicyConvergence[];
  /** Fan-outs stored but never started. */
  pendingFanouts: string[];
  /** Fan-outs whose row says pending or running but whose workflow is closed or missing. */
  deadFanouts: string[];
  readModel: ReadModelConvergence;
  casePolicies: CasePolicyConvergence;
  /** Nothing missing, nothing stale, nothing pending, nothing dead. */
  ok: boolean;
}

/** What one round of repair did. */
export interface RepairRound {
  fanoutsStarted: number;
  /** Dead fan-outs whose row was closed: completed from the workflow's result, or abandoned. */
  fanoutsClosed: number;
  /** Cases that lacked a newest revision and were given it (by Update, as the fan-out does), their rows written. */
  signalled: number;
  rewritten: number;
  casePoliciesFixed: number;
}
