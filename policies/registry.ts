import { type PoolClient } from 'pg';
import { type Db } from '../platform/db';
import { type IsoDate } from '../workflows/domain/dates';
import { revisionCovers } from '../workflows/domain/policy-scope';
import { type PolicyRevision } from '../workflows/domain/types';
import { INHERITED_POLICIES_MAX_AGE_MS } from '../workflows/messages';

export interface StoredRevision extends PolicyRevision {
  publishedAt: string;
  /** The registry position of the publication: positions grow by one with every publication. */
  position: number;
}

/** A copy of the registry: the newest revision of every policy, as of `position`. */
export interface RegistryCopy {
  position: number;
  revisions: StoredRevision[];
}

export interface FanoutRow {
  workflowId: string;
  policyId: string;
  revision: number;
  kind: 'publish' | 'resend';
  /** pending: stored, not yet started; superseded: stopped because a newer revision took over. */
  status: 'pending' | 'running' | 'completed' | 'superseded' | 'abandoned';
  /** Cases the first pass found without the revision. */
  matched: number;
  signalled: number;
  /** Listed cases that had closed when signalled. */
  failed: number;
  /** Cases later passes found without it: started from an older copy, or not reached by the first pass. */
  lateStarters: number;
  passes: number;
  /** Open cases in scope that lacked the revision at the last count; null before the first. */
  missing: number | null;
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
  ended_for: PolicyRevision['endedFor'] | null;
  published_at: Date;
  position: string;
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
  passes: number;
  missing: number | null;
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
    ...(r.ended_for ? { endedFor: r.ended_for } : {}),
    publishedAt: new Date(r.published_at).toISOString(),
    position: Number(r.position),
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
    passes: r.passes,
    missing: r.missing,
    startedAt: new Date(r.started_at).toISOString(),
    updatedAt: new Date(r.updated_at).toISOString(),
  };
}

const REVISION_COLUMNS = 'policy_id, revision, title, legal_reference, effective_from::text, effective_to::text, scope, effects, ended_for, published_at, position';

/** A stored revision as published (without where it is in the registry). */
export function revisionContent({ publishedAt: _at, position: _position, ...revision }: StoredRevision): PolicyRevision {
  return revision;
}

/** The policy registry in Postgres: published revisions, their fan-outs, and which cases applied them. */
export function createPolicyRegistry(db: Db, options: { copyMaxAgeMs?: number } = {}) {
  const copyMaxAgeMs = options.copyMaxAgeMs ?? INHERITED_POLICIES_MAX_AGE_MS;
  // New cases inherit from a copy of the newest revisions read at most copyMaxAgeMs ago. The copy carries
  // its registry position, and a case asks the registry for anything published after it once it has
  // started (workflows/case-workflow.ts), so an old copy costs a case nothing but that question.
  let copy: { readAt: number; registry: Promise<RegistryCopy> } | undefined;
  return {
    /** The newest revisions and the position they are as of, as the copy new cases inherit from. */
    current(): Promise<RegistryCopy> {
      const now = Date.now();
      if (!copy || now - copy.readAt > copyMaxAgeMs) {
        const registry = this.snapshot();
        copy = { readAt: now, registry };
        registry.catch(() => {
          if (copy?.registry === registry) copy = undefined;
        });
      }
      return copy.registry;
    },

    /** After a publication through this API: new cases read the registry again. */
    forgetCurrent(): void {
      copy = undefined;
    },

    /** The newest revision of every policy and the registry position, read in one statement (one snapshot). */
    async snapshot(): Promise<RegistryCopy> {
      const rows = await db.query<RevisionRow & { registry_position: string }>(
        `SELECT r.position AS registry_position, p.* FROM registry_position r
         LEFT JOIN LATERAL (SELECT DISTINCT ON (policy_id) ${REVISION_COLUMNS} FROM policy_revisions ORDER BY policy_id, revision DESC) p ON true`,
      );
      return { position: Number(rows[0]?.registry_position ?? 0), revisions: rows.filter((r) => r.policy_id !== null).map(revisionFromRow) };
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

    /** Stores a revision at the next registry position (the row lock on the counter orders publications). */
    async insert(tx: PoolClient, p: PolicyRevision): Promise<number> {
      const { rows } = await tx.query<{ position: string }>('UPDATE registry_position SET position = position + 1 RETURNING position');
      const position = Number(rows[0]!.position);
      await tx.query(
        `INSERT INTO policy_revisions (policy_id, revision, title, legal_reference, effective_from, effective_to, scope, effects, ended_for, position)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          p.policyId,
          p.revision,
          p.title,
          p.legalReference ?? null,
          p.effectiveFrom,
          p.effectiveTo ?? null,
          JSON.stringify(p.scope),
          JSON.stringify(p.effects),
          p.endedFor && p.endedFor.length > 0 ? JSON.stringify(p.endedFor) : null,
          position,
        ],
      );
      return position;
    },

    /** Records a fan-out as owed ('pending'); it is started after the transaction commits. */
    async insertFanout(tx: PoolClient, f: { workflowId: string; policyId: string; revision: number; kind: 'publish' | 'resend' }): Promise<void> {
      await tx.query(
        `INSERT INTO policy_fanouts (workflow_id, policy_id, revision, kind, status) VALUES ($1, $2, $3, $4, 'pending')
         ON CONFLICT (workflow_id) DO NOTHING`,
        [f.workflowId, f.policyId, f.revision, f.kind],
      );
    },

    /** Fan-outs stored but not yet seen running, stored more than `olderThanMs` ago. */
    async pendingFanouts(olderThanMs = 0): Promise<FanoutRow[]> {
      const rows = await db.query<FanoutDbRow>(
        `SELECT * FROM policy_fanouts WHERE status = 'pending' AND started_at <= now() - make_interval(secs => $1) ORDER BY started_at`,
        [olderThanMs / 1000],
      );
      return rows.map(fanoutFromRow);
    },

    /** The newest revision of every policy. */
    async latest(): Promise<StoredRevision[]> {
      const rows = await db.query<RevisionRow>(
        `SELECT DISTINCT ON (policy_id) ${REVISION_COLUMNS} FROM policy_revisions ORDER BY policy_id, revision DESC`,
      );
      return rows.map(revisionFromRow);
    },

    /** One stored revision, or undefined. */
    async revision(policyId: string, revision: number): Promise<StoredRevision | undefined> {
      const rows = await db.query<RevisionRow>(`SELECT ${REVISION_COLUMNS} FROM policy_revisions WHERE policy_id = $1 AND revision = $2`, [policyId, revision]);
      return rows[0] ? revisionFromRow(rows[0]) : undefined;
    },

    /** The newest revision number of a policy (0 if none). */
    async newestRevision(policyId: string): Promise<number> {
      const [row] = await db.query<{ n: number | null }>('SELECT max(revision) AS n FROM policy_revisions WHERE policy_id = $1', [policyId]);
      return row?.n ?? 0;
    },

    async fanouts(policyId?: string): Promise<FanoutRow[]> {
      const rows = await db.query<FanoutDbRow>(
        `SELECT * FROM policy_fanouts ${policyId ? 'WHERE policy_id = $1' : ''} ORDER BY started_at DESC, workflow_id DESC`,
        policyId ? [policyId] : [],
      );
      return rows.map(fanoutFromRow);
    },

    async resendCount(tx: PoolClient, policyId: string, revision: number): Promise<number> {
      const { rows } = await tx.query<{ n: string }>(`SELECT count(*) AS n FROM policy_fanouts WHERE policy_id = $1 AND revision = $2 AND kind = 'resend'`, [policyId, revision]);
      return Number(rows[0]?.n ?? 0);
    },

    /** How many cases applied each revision of a policy (from the cases' read model). */
    /** Which of these cases have applied the revision (a fan-out's window asks this while it is full). */
    async appliedAmong(policy: { policyId: string; revision: number }, caseIds: readonly string[]): Promise<string[]> {
      const rows = await db.query<{ case_id: string }>(
        `SELECT case_id FROM case_policies WHERE case_id = ANY($1::text[]) AND policy_id = $2 AND revision = $3`,
        [caseIds, policy.policyId, policy.revision],
        { name: 'applied-among' },
      );
      return rows.map((r) => r.case_id);
    },

    async appliedCounts(policyId?: string, municipalities?: readonly string[]): Promise<Map<string, number>> {
      // A key bound to municipalities counts its own cases only (the rows of cases elsewhere are other
      // municipalities' open-case counts).
      const where = [policyId ? 'cp.policy_id = $1' : '', municipalities ? `c.municipality = ANY($${policyId ? 2 : 1}::text[])` : ''].filter(Boolean);
      const rows = await db.query<{ policy_id: string; revision: number; n: string }>(
        `SELECT cp.policy_id, cp.revision, count(*) AS n FROM case_policies cp ${municipalities ? 'JOIN cases c ON c.case_id = cp.case_id' : ''}
         ${where.length ? `WHERE ${where.join(' AND ')}` : ''} GROUP BY cp.policy_id, cp.revision`,
        [...(policyId ? [policyId] : []), ...(municipalities ? [municipalities] : [])],
      );
      return new Map(rows.map((r) => [`${r.policy_id}#${r.revision}`, Number(r.n)]));
    },

    /**
     * What a new case inherits from the copy: the newest revision of every policy that reaches its
     * municipality (scope or endedFor), whatever its dates. The engine leaves a case untouched by a window it
     * never met, and the fan-out and verify count exactly these cases as in scope (policy-scope.ts).
     */
    async inheritedBy(municipality: string): Promise<{ position: number; policies: PolicyRevision[] }> {
      const { position, revisions } = await this.current();
      return { position, policies: revisions.filter((p) => revisionCovers(p, municipality)).map(revisionContent) };
    },

    /** The newest revisions published after `position` that reach `municipality` (a case's question at start). */
    async publishedAfter(position: number, municipality: string): Promise<PolicyRevision[]> {
      return (await this.publishedBetween(position, municipality)).policies;
    },

    /** The same, with the registry position it is as of (the fence of a case's first write, OPEN_IN_ONE_TASK). */
    async publishedBetween(position: number, municipality: string): Promise<{ position: number; policies: PolicyRevision[] }> {
      const copy = await this.snapshot();
      return { position: copy.position, policies: copy.revisions.filter((p) => p.position > position && revisionCovers(p, municipality)).map(revisionContent) };
    },
  };
}

export type PolicyRegistry = ReturnType<typeof createPolicyRegistry>;
