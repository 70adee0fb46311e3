import { coveredMunicipalities } from './domain/policy-scope';
import { type PolicyRevision } from './domain/types';
import { CASE_WORKFLOW_TYPE, policyKey } from './messages';

/**
 * Visibility queries of policy convergence, shared by the fan-out's activities and ops verify. They use only
 * search attributes the case workflow keeps current (workflows/search-attributes.ts); none holds personal data.
 */
const CASES = `WorkflowType = '${CASE_WORKFLOW_TYPE}'`;

/** The open cases a revision reaches: its scope and its endedFor (policy-scope.ts). */
export function openCasesInScopeQuery(policy: Pick<PolicyRevision, 'scope' | 'endedFor'>): string {
  const open = `${CASES} AND ExecutionStatus = 'Running'`;
  const codes = coveredMunicipalities(policy);
  return codes === null ? open : `${open} AND Municipality IN (${codes.map((c) => `'${c}'`).join(', ')})`;
}

/**
 * The open cases in scope that have not applied the revision: the set a fan-out empties and verify reports.
 * A case lists every revision it applied in PolicyRevisions (a keyword list, where `!=` means "does not
 * contain", and a case with none has the attribute unset, which `IS NULL` covers).
 */
export function missingRevisionQuery(policy: Pick<PolicyRevision, 'policyId' | 'revision' | 'scope' | 'endedFor'>): string {
  const key = policyKey(policy);
  return `${openCasesInScopeQuery(policy)} AND (PolicyRevisions IS NULL OR PolicyRevisions != '${key}')`;
}

/** Every case's newest run (open, or the last run of a closed case), for comparing the read model. */
export const CASE_RUNS_QUERY = `${CASES} AND ExecutionStatus != 'ContinuedAsNew'`;
