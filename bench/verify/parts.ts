import { createHash } from 'node:crypto';
import { snapshotRow } from '../../activities/read-model';
import { CASE_POLICY_COUNTS, CASE_POLICY_SAMPLE } from '../../api/ops/case-policies';
import { ROWS_OF_CASES } from '../../api/ops/read-model-check';
import { countMissingCases } from '../../policies/convergence';
import { canonicalJson, timelineFingerprint } from '../../workflows/domain/fingerprint';
import { type Timeline } from '../../workflows/domain/types';
import { CASE_RUNS_QUERY } from '../../workflows/policy-queries';
import { CaseFingerprintKey, CaseIdKey, CaseRevisionKey } from '../../workflows/search-attributes';
import { type BenchStack } from '../support';
import { NATIONAL, REGIONAL } from './population';

/** Verify's own page size (api/ops/service.ts). */
export const PAGE_SIZE = 1_000;

/** Seconds since a performance.now() reading. */
export const seconds = (sinceMs: number) => (performance.now() - sinceMs) / 1000;

/** What each part of verify took, alone (bench:verify prints them). */
export interface Parts {
  listing: number;
  pages: number;
  rows: number;
  check: number;
  fingerprint: number;
  /** Of the fingerprints: the canonical JSON alone, and the same texts hashed by node:crypto instead of @noble/hashes. */
  canonical: number;
  nodeSha256: number;
  /** Mean seconds of a listing page among the first and the last ten, and of every tenth page (its depth). */
  firstPages: number;
  lastPages: number;
  pageTimes: number[];
  casePolicies: number;
  casePolicyStatement: number;
  policyCounts: number;
  listed: number;
  mismatched: number;
}

/**
 * Verify's parts, each timed alone from this process, in the order verify runs them: the per-policy counts
 * (countWorkflowExecutions per newest revision); visibility's listing (1,000 runs a page, the same query, the
 * search attributes decoded); the rows of each page read from Postgres (the same statement); each row checked
 * against its own timeline (snapshotRow, which fingerprints it) and against the listed run; the fingerprints
 * alone, of the same timelines (and their canonical JSON alone, and the same texts hashed by node:crypto, which
 * gives the same digest: the API could use it, workflow code cannot); and the case_policies statements (counts,
 * then a sample over the same CTEs).
 */
export async function measureParts(stack: BenchStack): Promise<Parts> {
  const { client, db } = stack;
  let t = performance.now();
  for (const policy of [NATIONAL, REGIONAL[1]!]) await countMissingCases(client, policy);
  const policyCounts = seconds(t);

  const pages: { caseId: string; runId: string; revision: number; fingerprint: string }[][] = [];
  const pageTimes: number[] = [];
  t = performance.now();
  let token: Uint8Array | undefined;
  do {
    const pageStarted = performance.now();
    const page = await client.workflowService.listWorkflowExecutions({ namespace: 'default', query: CASE_RUNS_QUERY, pageSize: PAGE_SIZE, nextPageToken: token });
    pages.push(
      (page.executions ?? []).map((e) => {
        const fields = e.searchAttributes?.indexedFields ?? {};
        const decode = (name: string) => JSON.parse(Buffer.from(fields[name]!.data!).toString('utf8')) as unknown;
        return { caseId: decode(CaseIdKey.name) as string, runId: e.execution!.runId!, revision: decode(CaseRevisionKey.name) as number, fingerprint: decode(CaseFingerprintKey.name) as string };
      }),
    );
    token = page.nextPageToken && page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
    pageTimes.push(seconds(pageStarted));
  } while (token);
  const listing = seconds(t);

  let rows = 0;
  let check = 0;
  let fingerprint = 0;
  let canonical = 0;
  let nodeSha256 = 0;
  let mismatched = 0;
  for (const page of pages) {
    t = performance.now();
    const read = await db.query<{ case_id: string; workflow_id: string; revision: number; run_id: string; fingerprint: string; timeline: Timeline } & Record<string, unknown>>(ROWS_OF_CASES, [
      page.map((r) => r.caseId),
    ]);
    rows += seconds(t);
    t = performance.now();
    const byId = new Map(read.map((r) => [r.case_id, r]));
    for (const run of page) {
      const row = byId.get(run.caseId);
      const expected = row && (snapshotRow({ workflowId: row.workflow_id, revision: row.revision, timeline: row.timeline }) as unknown as Record<string, unknown>);
      const intact = row && ['municipality', 'first_absence_day', 'status', 'category', 'conversation_mode', 'next_deadline', 'next_deadline_kind', 'overdue', 'closed_on', 'fingerprint'].every((k) => (expected![k] ?? null) === (row[k] ?? null));
      if (!row || !intact || row.run_id !== run.runId || row.revision !== run.revision || row.fingerprint !== run.fingerprint) mismatched++;
    }
    check += seconds(t);
    t = performance.now();
    for (const row of read) timelineFingerprint(row.timeline);
    fingerprint += seconds(t);
    t = performance.now();
    const texts = read.map((row) => canonicalJson(row.timeline));
    canonical += seconds(t);
    t = performance.now();
    for (const text of texts) createHash('sha256').update(text).digest('hex').slice(0, 32);
    nodeSha256 += seconds(t);
  }

  t = performance.now();
  await db.query(CASE_POLICY_COUNTS);
  const casePolicyStatement = seconds(t);
  t = performance.now();
  await db.query(CASE_POLICY_SAMPLE, [20]);
  const casePolicies = casePolicyStatement + seconds(t);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const full = pageTimes.filter((_, i) => pages[i]!.length === PAGE_SIZE);
  return {
    listing,
    pages: pages.length,
    listed: pages.reduce((n, p) => n + p.length, 0),
    firstPages: mean(full.slice(0, 10)),
    lastPages: mean(full.slice(-10)),
    pageTimes: full,
    rows,
    check,
    mismatched,
    fingerprint,
    canonical,
    nodeSha256,
    casePolicies,
    casePolicyStatement,
    policyCounts,
  };
}
