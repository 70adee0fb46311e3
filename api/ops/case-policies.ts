import { type Db } from '../../platform/db';
import { type CasePolicyConvergence, SAMPLE } from './report';

/*
 * case_policies against the read-model rows: a case's entries there are exactly the revisions its own row's
 * timeline holds (the fan-out's window and the policies' counts read case_policies).
 */

/** case_policies rows the case's row does not hold (stale), and revisions the row holds that case_policies lacks (missing). */
const CASE_POLICY_PROBLEMS = `
  WITH held AS (
    SELECT c.case_id, p."policyId" AS policy_id, p.revision
    FROM cases c CROSS JOIN LATERAL jsonb_to_recordset(c.timeline->'policies') AS p("policyId" text, revision integer)
  ),
  stale AS (
    SELECT cp.case_id, cp.policy_id, cp.revision, 'stale' AS problem FROM case_policies cp
    WHERE NOT EXISTS (SELECT 1 FROM held h WHERE h.case_id = cp.case_id AND h.policy_id = cp.policy_id AND h.revision = cp.revision)
  ),
  missing AS (
    SELECT h.case_id, h.policy_id, h.revision, 'missing' AS problem FROM held h
    WHERE NOT EXISTS (SELECT 1 FROM case_policies cp WHERE cp.case_id = h.case_id AND cp.policy_id = h.policy_id AND cp.revision = h.revision)
  )`;
/** How many of each (exported, with the sample, for bench:verify). */
export const CASE_POLICY_COUNTS = `${CASE_POLICY_PROBLEMS} SELECT problem, count(*) AS n FROM (SELECT problem FROM stale UNION ALL SELECT problem FROM missing) a GROUP BY problem`;
export const CASE_POLICY_SAMPLE = `${CASE_POLICY_PROBLEMS} (SELECT * FROM stale ORDER BY case_id LIMIT $1) UNION ALL (SELECT * FROM missing ORDER BY case_id LIMIT $1)`;

/** What case_policies holds that the rows do not (stale), and what the rows hold that it lacks (missing). */
export async function casePolicyProblems(db: Db): Promise<CasePolicyConvergence> {
  const counts = await db.query<{ problem: 'stale' | 'missing'; n: string }>(CASE_POLICY_COUNTS);
  const count = (problem: 'stale' | 'missing') => Number(counts.find((c) => c.problem === problem)?.n ?? 0);
  const sample =
    count('stale') + count('missing') === 0
      ? []
      : await db.query<{ case_id: string; policy_id: string; revision: number; problem: 'stale' | 'missing' }>(CASE_POLICY_SAMPLE, [SAMPLE]);
  return {
    stale: count('stale'),
    missing: count('missing'),
    sample: sample.slice(0, SAMPLE).map((r) => ({ caseId: r.case_id, policyId: r.policy_id, revision: r.revision, problem: r.problem })),
  };
}

/** Makes case_policies hold exactly the revisions each case's row holds (run after stale rows were rewritten). */
export async function repairCasePolicies(db: Db): Promise<number> {
  const [{ n: dropped }] = await db.query<{ n: string }>(
    `${CASE_POLICY_PROBLEMS},
     gone AS (DELETE FROM case_policies cp USING stale s WHERE cp.case_id = s.case_id AND cp.policy_id = s.policy_id AND cp.revision = s.revision RETURNING 1)
     SELECT count(*) AS n FROM gone`,
  ) as [{ n: string }];
  const [{ n: added }] = await db.query<{ n: string }>(
    `${CASE_POLICY_PROBLEMS},
     added AS (INSERT INTO case_policies (case_id, policy_id, revision) SELECT case_id, policy_id, revision FROM missing ON CONFLICT DO NOTHING RETURNING 1)
     SELECT count(*) AS n FROM added`,
  ) as [{ n: string }];
  return Number(dropped) + Number(added);
}
