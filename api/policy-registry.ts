import { type PoolClient } from 'pg';
import { type Db } from '../platform/db';
import { type IsoDate } from '../workflows/domain/dates';
import { scopeCovers } from '../workflows/domain/timeline';
import { type PolicyRevision } from '../workflows/domain/types';
import { INHERITED_POLICIES_MAX_AGE_MS } from '../workflows/messages';

export interface StoredRevision extends PolicyRevision {
  publishedAt: string;
}

export interface FanoutRow {
  workflowId: string;
  policyId: string;
  revision: number;
  kind: 'publish' | 'resend';
  status: 'running' | 'completed';
  matched: number;
  signalled: number;
  failed: number;
  lateStarters: number;
  startedAt: string;
  updatedAt: string;
}

/** Dates are selected as text (`::text`), so no time zone ever shifts them. */
const toIso = (d: string | null): IsoDate | null => (d === null ? null : d.slice(0, 10));

interface RevisionRow {
  policy_id: string;
  revision: number;
  title: string;
  legal_reference: string | null;
  effective_from: string;
  effective_to: string | null;
  scope: PolicyRevision['scope'];
  effects: PolicyRevision['effects'];
  published_at: Date;
}

interface FanoutDbRow {
  workflow_id: string;
  policy_id: string;
  revision: number;
  kind: FanoutRow['kind'];
  status: FanoutRow['status'];
  matched: number;
  signalled: number;
  failed: number;
  late_starters: number;
  started_at: Date;
  updated_at: Date;
}

function revisionFromRow(r: RevisionRow): StoredRevision {
  return {
    policyId: r.policy_id,
    revision: r.revision,
    title: r.title,
    ...(r.legal_reference ? { legalReference: r.legal_reference } : {}),
    effectiveFrom: toIso(r.effective_from)!,
    effectiveTo: toIso(r.effective_to),
    scope: r.scope,
    effects: r.effects,
    publishedAt: new Date(r.published_at).toISOString(),
  };
}

function fanoutFromRow(r: FanoutDbRow): FanoutRow {
  return {
    workflowId: r.workflow_id,
    policyId: r.policy_id,
    revision: r.revision,
    kind: r.kind,
    status: r.status,
    matched: r.matched,
    signalled: r.signalled,
    failed: r.failed,
    lateStarters: r.late_starters,
    startedAt: new Date(r.started_at).toISOString(),
    updatedAt: new Date(r.updated_at).toISOString(),
  };
}

const REVISION_COLUMNS = 'policy_id, revision, title, legal_reference, effective_from::text, effective_to::text, scope, effects, published_at';

/** The policy registry in Postgres: published revisions, their fan-outs, and which cases applied them. */
export function createPolicyRegistry(db: Db) {
  // New cases inherit from a copy of the newest revisions read at most INHERITED_POLICIES_MAX_AGE_MS ago
  // (its age counted from when the read was sent, so the copy holds every publication committed before
  // then). A publication through this API drops the copy at once; one through another API instance is
  // seen within the age, and the fan-out's closing sweep waits longer than that (policy-fanout-workflow.ts).
  let copy: { readAt: number; revisions: Promise<StoredRevision[]> } | undefined;
  return {
    /** The newest revisions, as the copy new cases inherit from. */
    current(): Promise<StoredRevision[]> {
      const now = Date.now();
      if (!copy || now - copy.readAt > INHERITED_POLICIES_MAX_AGE_MS) {
        const revisions = this.latest();
        copy = { readAt: now, revisions };
        revisions.catch(() => {
          if (copy?.revisions === revisions) copy = undefined;
        });
      }
      return copy.revisions;
    },

    /** After a publication through this API: new cases read the registry again. */
    forgetCurrent(): void {
      copy = undefined;
    },

    /** Serialises publications of one policy (the caller's transaction holds the lock until it ends). */
    async lock(tx: PoolClient, policyId: string): Promise<void> {
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`policy:${policyId}`]);
    },

    async revisions(policyId: string, tx?: PoolClient): Promise<StoredRevision[]> {
      const sql = `SELECT ${REVISION_COLUMNS} FROM policy_revisions WHERE policy_id = $1 ORDER BY revision DESC`;
      const rows = tx ? (await tx.query<RevisionRow>(sql, [policyId])).rows : await db.query<RevisionRow>(sql, [policyId]);
      return rows.map(revisionFromRow);
    },

    async insert(tx: PoolClient, p: PolicyRevision): Promise<void> {
      await tx.query(
        `INSERT INTO policy_revisions (policy_id, revision, title, legal_reference, effective_from, effective_to, scope, effects)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [p.policyId, p.revision, p.title, p.legalReference ?? null, p.effectiveFrom, p.effectiveTo ?? null, JSON.stringify(p.scope), JSON.stringify(p.effects)],
      );
    },

    async insertFanout(tx: PoolClient, f: { workflowId: string; policyId: string; revision: number; kind: 'publish' | 'resend' }): Promise<void> {
      await tx.query(
        `INSERT INTO policy_fanouts (workflow_id, policy_id, revision, kind, status) VALUES ($1, $2, $3, $4, 'running')
         ON CONFLICT (workflow_id) DO NOTHING`,
        [f.workflowId, f.policyId, f.revision, f.kind],
      );
    },

    /** The newest revision of every policy. */
    async latest(): Promise<StoredRevision[]> {
      const rows = await db.query<RevisionRow>(
        `SELECT DISTINCT ON (policy_id) ${REVISION_COLUMNS} FROM policy_revisions ORDER BY policy_id, revision DESC`,
      );
      return rows.map(revisionFromRow);
    },

    async fanouts(policyId?: string): Promise<FanoutRow[]> {
      const rows = await db.query<FanoutDbRow>(
        `SELECT * FROM policy_fanouts ${policyId ? 'WHERE policy_id = $1' : ''} ORDER BY started_at DESC, workflow_id DESC`,
        policyId ? [policyId] : [],
      );
      return rows.map(fanoutFromRow);
    },

    async resendCount(policyId: string, revision: number): Promise<number> {
      const [row] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM policy_fanouts WHERE policy_id = $1 AND revision = $2 AND kind = 'resend'`, [policyId, revision]);
      return Number(row?.n ?? 0);
    },

    /** How many cases applied each revision of a policy (from the cases' read model). */
    async appliedCounts(policyId?: string): Promise<Map<string, number>> {
      const rows = await db.query<{ policy_id: string; revision: number; n: string }>(
        `SELECT policy_id, revision, count(*) AS n FROM case_policies ${policyId ? 'WHERE policy_id = $1' : ''} GROUP BY policy_id, revision`,
        policyId ? [policyId] : [],
      );
      return new Map(rows.map((r) => [`${r.policy_id}#${r.revision}`, Number(r.n)]));
    },

    /**
     * The newest revisions a new case inherits: those covering its municipality that can still touch it
     * (open-ended, ending on or after its first day of absence, or moving review points).
     */
    async inheritedBy(municipality: string, firstAbsenceDay: IsoDate): Promise<PolicyRevision[]> {
      const current = await this.current();
      return current
        .filter((p) => scopeCovers(p.scope, municipality))
        .filter((p) => !p.effectiveTo || p.effectiveTo >= firstAbsenceDay || p.effects.some((e) => e.type === 'extendBenefitPeriod'))
        .map(({ publishedAt: _publishedAt, ...revision }) => revision);
    },
  };
}

export type PolicyRegistry = ReturnType<typeof createPolicyRegistry>;
