import { type Db } from '../platform/db';
import { type IsoDate } from '../workflows/domain/dates';

/**
 * The reports, read from the Postgres read model (cases, deadlines, case_policies) that the case
 * workflows keep current. All SQL is parameterised; dates are compared as dates, counted in days.
 */
export interface ReportFilter {
  municipality?: string;
  kind?: string;
  /** The municipalities of a bound key: only their rows are counted (undefined: a national key, all). */
  reach?: readonly string[];
}

const reachOf = (f: ReportFilter): string[] | null => (f.reach ? [...f.reach] : null);

const DAYS_LATE_BUCKETS = [
  { label: '1-7', from: 1, to: 7 },
  { label: '8-14', from: 8, to: 14 },
  { label: '15-21', from: 15, to: 21 },
  { label: '22+', from: 22, to: null },
] as const;

export function createReports(db: Db) {
  return {
    /** Open deadlines past due on asOf, most overdue first; `total` counts them all, `rows` up to `limit`. */
    async overdue(asOf: IsoDate, f: ReportFilter & { limit?: number }) {
      const where = `d.case_open AND d.status IN ('pending', 'missed') AND d.due_date < $1::date
           AND ($2::text IS NULL OR d.municipality = $2) AND ($3::text IS NULL OR d.kind = $3)
           AND ($4::text[] IS NULL OR d.municipality = ANY($4))`;
      const params = [asOf, f.municipality ?? null, f.kind ?? null, reachOf(f)];
      const [rows, [total]] = await Promise.all([
        db.query<{ caseId: string; municipality: string; deadlineId: string; kind: string; dueDate: string; daysOverdue: number }>(
          `SELECT d.case_id AS "caseId", d.municipality, d.deadline_id AS "deadlineId", d.kind, d.due_date::text AS "dueDate",
                  ($1::date - d.due_date) AS "daysOverdue"
           FROM deadlines d WHERE ${where}
           ORDER BY d.due_date, d.case_id, d.deadline_id
           LIMIT $5`,
          [...params, f.limit ?? 1000],
        ),
        db.query<{ n: string }>(`SELECT count(*) AS n FROM deadlines d WHERE ${where}`, params),
      ]);
      return { asOf, total: Number(total?.n ?? 0), count: rows.length, rows };
    },

    /** Open deadlines due from asOf through asOf + days. */
    async upcoming(asOf: IsoDate, days: number, f: ReportFilter & { limit?: number }) {
      const rows = await db.query<{ caseId: string; municipality: string; deadlineId: string; kind: string; dueDate: string; status: string; mode: string | null }>(
        `SELECT d.case_id AS "caseId", d.municipality, d.deadline_id AS "deadlineId", d.kind, d.due_date::text AS "dueDate",
                d.status, d.mode
         FROM deadlines d
         WHERE d.case_open AND d.status IN ('pending', 'paused') AND d.due_date BETWEEN $1::date AND $1::date + $2::int
           AND ($3::text IS NULL OR d.municipality = $3) AND ($4::text IS NULL OR d.kind = $4)
           AND ($6::text[] IS NULL OR d.municipality = ANY($6))
         ORDER BY d.due_date, d.case_id, d.deadline_id
         LIMIT $5`,
        [asOf, days, f.municipality ?? null, f.kind ?? null, f.limit ?? 1000, reachOf(f)],
      );
      return { asOf, days, count: rows.length, rows };
    },

    /**
     * Timeliness (rettidighed) of first conversations whose deadline, as the law set it, fell in the period.
     * A deadline a policy paused, waived or moved is excluded: the suspension is taken out, not counted late.
     */
    async timeliness(from: IsoDate, to: IsoDate, asOf: IsoDate, f: ReportFilter) {
      const [row] = await db.query<Record<string, string | null>>(
        `WITH d AS (
           SELECT status, days_late, due_date,
                  (status IN ('paused', 'waived') OR cardinality(policy_ids) > 0) AS excluded
           FROM deadlines
           WHERE kind = 'first-conversation' AND original_due_date BETWEEN $1::date AND $2::date
             AND ($4::text IS NULL OR municipality = $4) AND ($5::text[] IS NULL OR municipality = ANY($5)))
         SELECT count(*) AS total,
                count(*) FILTER (WHERE excluded) AS excluded,
                count(*) FILTER (WHERE NOT excluded AND status = 'met' AND days_late = 0) AS on_time,
                count(*) FILTER (WHERE NOT excluded AND status = 'met' AND days_late > 0) AS late,
                count(*) FILTER (WHERE NOT excluded AND (status = 'missed' OR (status = 'pending' AND due_date < $3::date))) AS missed,
                count(*) FILTER (WHERE NOT excluded AND status = 'pending' AND due_date >= $3::date) AS not_yet_due,
                ${DAYS_LATE_BUCKETS.map(
                  (b, i) =>
                    `count(*) FILTER (WHERE NOT excluded AND status = 'met' AND days_late >= ${b.from}${b.to === null ? '' : ` AND days_late <= ${b.to}`}) AS bucket_${i}`,
                ).join(',\n                ')}
         FROM d`,
        [from, to, asOf, f.municipality ?? null, reachOf(f)],
      );
      const n = (k: string) => Number(row?.[k] ?? 0);
      const judged = n('on_time') + n('late') + n('missed');
      return {
        from,
        to,
        asOf,
        municipality: f.municipality ?? null,
        ...(f.reach ? { municipalities: [...f.reach] } : {}),
        total: n('total'),
        onTime: n('on_time'),
        late: n('late'),
        missed: n('missed'),
        excludedByPolicy: n('excluded'),
        notYetDue: n('not_yet_due'),
        /** On time out of those judged (on time, late, missed); the excluded are not in it. */
        timelinessRate: judged === 0 ? null : Math.round((n('on_time') / judged) * 10_000) / 10_000,
        daysLateDistribution: Object.fromEntries(DAYS_LATE_BUCKETS.map((b, i) => [b.label, n(`bucket_${i}`)])),
      };
    },

    /** Conversations held in the period, by mode. */
    async conversationModes(from: IsoDate, to: IsoDate, f: ReportFilter) {
      const rows = await db.query<{ mode: string; n: string }>(
        `SELECT coalesce(mode, 'unknown') AS mode, count(*) AS n FROM deadlines
         WHERE status = 'met' AND kind IN ('first-conversation', 'follow-up-conversation') AND met_on BETWEEN $1::date AND $2::date
           AND ($3::text IS NULL OR municipality = $3) AND ($4::text[] IS NULL OR municipality = ANY($4))
         GROUP BY 1 ORDER BY 1`,
        [from, to, f.municipality ?? null, reachOf(f)],
      );
      const modes: Record<string, number> = { 'in-person': 0, phone: 0, video: 0 };
      for (const r of rows) modes[r.mode] = Number(r.n);
      return { from, to, municipality: f.municipality ?? null, ...(f.reach ? { municipalities: [...f.reach] } : {}), total: rows.reduce((sum, r) => sum + Number(r.n), 0), modes };
    },

    /** What a policy did: cases that applied it, and the deadlines it moved and by how much (a bound key: in its municipalities). */
    async policyImpact(policyId: string, reach?: readonly string[]) {
      const r = reach ? [...reach] : null;
      const [touched] = await db.query<{ n: string }>(
        `SELECT count(DISTINCT cp.case_id) AS n FROM case_policies cp
         WHERE cp.policy_id = $1 AND ($2::text[] IS NULL OR EXISTS (SELECT 1 FROM cases c WHERE c.case_id = cp.case_id AND c.municipality = ANY($2)))`,
        [policyId, r],
      );
      const byKind = await db.query<Record<string, string | null>>(
        `SELECT kind, count(*) AS deadlines,
                count(*) FILTER (WHERE status = 'paused' AND due_date IS NULL) AS paused_without_date,
                count(*) FILTER (WHERE status = 'waived') AS waived,
                count(*) FILTER (WHERE due_date IS NOT NULL AND due_date <> original_due_date) AS moved,
                coalesce(sum(due_date - original_due_date) FILTER (WHERE due_date IS NOT NULL), 0) AS days_total,
                max(due_date - original_due_date) AS days_max
         FROM deadlines WHERE policy_ids @> ARRAY[$1]::text[] AND ($2::text[] IS NULL OR municipality = ANY($2)) GROUP BY kind ORDER BY kind`,
        [policyId, r],
      );
      const [cases] = await db.query<{ n: string }>(
        'SELECT count(DISTINCT case_id) AS n FROM deadlines WHERE policy_ids @> ARRAY[$1]::text[] AND ($2::text[] IS NULL OR municipality = ANY($2))',
        [policyId, r],
      );
      const sum = (k: string) => byKind.reduce((total, row) => total + Number(row[k] ?? 0), 0);
      const maxima = byKind.map((row) => row.days_max).filter((v): v is string => v !== null).map(Number);
      return {
        policyId,
        ...(reach ? { municipalities: [...reach] } : {}),
        casesTouched: Number(touched?.n ?? 0),
        casesWithDeadlinesAffected: Number(cases?.n ?? 0),
        deadlinesAffected: sum('deadlines'),
        deadlinesMoved: sum('moved'),
        deadlinesPausedWithoutDate: sum('paused_without_date'),
        deadlinesWaived: sum('waived'),
        daysMovedTotal: sum('days_total'),
        daysMovedMax: maxima.length === 0 ? null : Math.max(...maxima),
        daysMovedAverage: sum('moved') === 0 ? null : Math.round((sum('days_total') / sum('moved')) * 10) / 10,
        byKind: byKind.map((k) => ({ kind: k.kind!, deadlines: Number(k.deadlines), daysMovedTotal: Number(k.days_total) })),
      };
    },
  };
}

export type Reports = ReturnType<typeof createReports>;
