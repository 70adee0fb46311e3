import { type Db } from '../platform/db';
import { addDays, type IsoDate } from '../workflows/domain/dates';

/**
 * The reports, read from the Postgres read model that the case workflows keep current. The figures come from
 * the counts that migrations/20261130012500000_report-aggregates.sql keeps next to the deadlines (changed by
 * triggers in the same transaction as the rows), so a report adds up thousands of count rows instead of
 * counting millions of deadlines; the lists of overdue and upcoming deadlines read covering indexes. Each
 * answer is exactly what counting the deadlines would give (test/integration/report-aggregates.test.ts
 * compares every report with such a count). All SQL is parameterised; dates are compared as dates.
 */
export interface ReportFilter {
  municipality?: string;
  kind?: string;
  /** The municipalities of a bound key: only their rows are counted (undefined: a national key, all). */
  reach?: readonly string[];
}

/**
 * The municipalities a report is limited to: the filter's one, the key's reach, or both (the one if the key
 * reaches it, else none); null for every municipality.
 */
function placesOf(f: ReportFilter): string[] | null {
  if (f.municipality === undefined) return f.reach ? [...new Set(f.reach)] : null;
  return !f.reach || f.reach.includes(f.municipality) ? [f.municipality] : [];
}

const DAYS_LATE_BUCKETS = [
  { label: '1-7', from: 1, to: 7 },
  { label: '8-14', from: 8, to: 14 },
  { label: '15-21', from: 15, to: 21 },
  { label: '22+', from: 22, to: null },
] as const;

/**
 * report_first_conversations keeps days late up to 22 and counts later ones as 22 (the migration's
 * least(days_late, 22)), which keeps every bucket above exact only while no bound exceeds it.
 */
const DAYS_LATE_KEPT_UP_TO = 22;
if (DAYS_LATE_BUCKETS.some((b) => b.from > DAYS_LATE_KEPT_UP_TO || (b.to !== null && b.to >= DAYS_LATE_KEPT_UP_TO))) {
  throw new Error(`a days-late bucket reaches past ${DAYS_LATE_KEPT_UP_TO}, the days the report counts keep apart`);
}

/** Count rows of one grain whose `day` lies in [first, last] ('-infinity' for no lower bound). */
export interface Span {
  grain: 'y' | 'm' | 'd';
  first: string;
  last: IsoDate;
}

const firstOfMonth = (d: IsoDate): IsoDate => `${d.slice(0, 7)}-01`;
const firstOfYear = (d: IsoDate): IsoDate => `${d.slice(0, 4)}-01-01`;
const nextMonth = (d: IsoDate): IsoDate => addDays(`${d.slice(0, 7)}-28`, 4).slice(0, 7) + '-01';
const nextYear = (d: IsoDate): IsoDate => `${Number(d.slice(0, 4)) + 1}-01-01`;
const ceilMonth = (d: IsoDate): IsoDate => (d === firstOfMonth(d) ? d : nextMonth(d));
const ceilYear = (d: IsoDate): IsoDate => (d === firstOfYear(d) ? d : nextYear(d));

/**
 * The period from..to (both included; from null: everything up to `to`) as the fewest count rows: single days
 * up to the first whole month, whole months up to the first whole year, whole years, then whole months and
 * single days to the end. Rows of the 'm' and 'y' grains are keyed by their first day.
 */
export function periodSpans(from: IsoDate | null, to: IsoDate): Span[] {
  if (from !== null && from > to) return [];
  const end = addDays(to, 1); // the first day after the period
  const spans: Span[] = [];
  const add = (grain: Span['grain'], first: string, endExclusive: IsoDate) => {
    const last = addDays(endExclusive, -1);
    if (first === '-infinity' || first <= last) spans.push({ grain, first, last });
  };
  const yearsEnd = firstOfYear(end);
  const monthsEnd = firstOfMonth(end);
  if (from === null) {
    add('y', '-infinity', yearsEnd);
    add('m', yearsEnd, monthsEnd);
    add('d', monthsEnd, end);
    return spans;
  }
  const yearsFrom = ceilYear(from);
  const monthsFrom = ceilMonth(from);
  if (yearsFrom < yearsEnd) {
    add('d', from, monthsFrom);
    add('m', monthsFrom, yearsFrom);
    add('y', yearsFrom, yearsEnd);
    add('m', yearsEnd, monthsEnd);
    add('d', monthsEnd, end);
  } else if (monthsFrom < monthsEnd) {
    add('d', from, monthsFrom);
    add('m', monthsFrom, monthsEnd);
    add('d', monthsEnd, end);
  } else {
    add('d', from, end);
  }
  return spans;
}

/** The spans as three parameters for spanRows. */
const spanParams = (spans: Span[]) => [spans.map((s) => s.grain), spans.map((s) => s.first), spans.map((s) => s.last)];
/**
 * The count rows of `table` in the spans given as parameters $a, $a+1, $a+2, as `a`: one index range scan of
 * each span (OFFSET 0 keeps the planner from turning it into a join that reads the whole table).
 */
const spanRows = (table: string, a: number) =>
  `unnest($${a}::text[], $${a + 1}::date[], $${a + 2}::date[]) AS s(grain, first, last)
   CROSS JOIN LATERAL (SELECT * FROM ${table} r WHERE r.grain = s.grain AND r.day BETWEEN s.first AND s.last OFFSET 0) a`;

/**
 * Open deadlines of open cases in `status`, with `where`, in due-date order, up to `limit`. Nationally one walk
 * of deadlines_open_list_idx; for some municipalities one walk of deadlines_open_municipality_list_idx each
 * (the first `limit` of each, merged), since a filter on the national order could read the whole index to
 * find a small municipality's few rows.
 */
function openDeadlineList(places: string[] | null, columns: string, where: string): string {
  const select = `SELECT ${columns}, d.due_date AS due_order, d.case_id AS case_order, d.deadline_id AS deadline_order FROM deadlines d`;
  const order = 'ORDER BY d.due_date, d.case_id, d.deadline_id LIMIT $LIMIT';
  if (places === null) return `SELECT * FROM (${select} WHERE ${where} ${order}) x`;
  return `SELECT x.* FROM (SELECT DISTINCT unnest($PLACES::text[]) AS municipality) m
          CROSS JOIN LATERAL (${select} WHERE d.municipality = m.municipality AND ${where} ${order}) x
          ORDER BY x.due_order, x.case_order, x.deadline_order LIMIT $LIMIT`;
}

export function createReports(db: Db) {
  /** Runs openDeadlineList's statement and drops its ordering columns. */
  async function list<R extends object>(places: string[] | null, columns: string, where: string, params: unknown[], limit: number): Promise<R[]> {
    const all = [...params, limit, ...(places === null ? [] : [places])];
    const text = openDeadlineList(places, columns, where)
      .replaceAll('$LIMIT', `$${params.length + 1}`)
      .replaceAll('$PLACES', `$${params.length + 2}`);
    const rows = await db.query<R & { due_order?: unknown; case_order?: unknown; deadline_order?: unknown }>(text, all);
    return rows.map(({ due_order: _d, case_order: _c, deadline_order: _i, ...row }) => row as unknown as R);
  }

  return {
    /**
     * Missed deadlines of open cases by kind, the kinds with any (the /metrics gauge deadlines_missed): the
     * yearly counts, so a scrape reads a few rows, not the deadlines.
     */
    async missedByKind(): Promise<Record<string, number>> {
      const rows = await db.query<{ kind: string; n: string }>(
        `SELECT kind, sum(n) AS n FROM report_open_deadlines WHERE grain = 'y' AND status = 'missed' GROUP BY kind HAVING sum(n) > 0 ORDER BY kind`,
      );
      return Object.fromEntries(rows.map((r) => [r.kind, Number(r.n)]));
    },

    /** Open deadlines past due on asOf, most overdue first; `total` counts them all, `rows` up to `limit`. */
    async overdue(asOf: IsoDate, f: ReportFilter & { limit?: number }) {
      const places = placesOf(f);
      const [rows, [total]] = await Promise.all([
        list<{ caseId: string; municipality: string; deadlineId: string; kind: string; dueDate: string; daysOverdue: number }>(
          places,
          `d.case_id AS "caseId", d.municipality, d.deadline_id AS "deadlineId", d.kind, d.due_date::text AS "dueDate", ($1::date - d.due_date) AS "daysOverdue"`,
          `d.case_open AND d.status IN ('pending', 'missed') AND d.due_date < $1::date AND ($2::text IS NULL OR d.kind = $2)`,
          [asOf, f.kind ?? null],
          f.limit ?? 1000,
        ),
        db.query<{ n: string | null }>(
          `SELECT sum(a.n) AS n FROM ${spanRows('report_open_deadlines', 1)}
           WHERE ($4::text IS NULL OR a.kind = $4) AND ($5::text[] IS NULL OR a.municipality = ANY($5))`,
          [...spanParams(periodSpans(null, addDays(asOf, -1))), f.kind ?? null, places],
        ),
      ]);
      return { asOf, total: Number(total?.n ?? 0), count: rows.length, rows };
    },

    /** Open deadlines due from asOf through asOf + days. */
    async upcoming(asOf: IsoDate, days: number, f: ReportFilter & { limit?: number }) {
      const rows = await list<{ caseId: string; municipality: string; deadlineId: string; kind: string; dueDate: string; status: string; mode: string | null }>(
        placesOf(f),
        `d.case_id AS "caseId", d.municipality, d.deadline_id AS "deadlineId", d.kind, d.due_date::text AS "dueDate", d.status, d.mode`,
        `d.case_open AND d.status IN ('pending', 'paused') AND d.due_date BETWEEN $1::date AND $1::date + $2::int AND ($3::text IS NULL OR d.kind = $3)`,
        [asOf, days, f.kind ?? null],
        f.limit ?? 1000,
      );
      return { asOf, days, count: rows.length, rows };
    },

    /**
     * Timeliness (rettidighed) of first conversations whose deadline, as the law set it, fell in the period.
     * A deadline a policy paused, waived or moved is excluded: the suspension is taken out, not counted late.
     * (`excluded` is that condition, kept with the count: status paused or waived, or any policy on it.)
     */
    async timeliness(from: IsoDate, to: IsoDate, asOf: IsoDate, f: ReportFilter) {
      const [row] = await db.query<Record<string, string | null>>(
        `SELECT sum(a.n) AS total,
                sum(a.n) FILTER (WHERE a.excluded) AS excluded,
                sum(a.n) FILTER (WHERE NOT a.excluded AND a.status = 'met' AND a.days_late = 0) AS on_time,
                sum(a.n) FILTER (WHERE NOT a.excluded AND a.status = 'met' AND a.days_late > 0) AS late,
                sum(a.n) FILTER (WHERE NOT a.excluded AND (a.status = 'missed' OR (a.status = 'pending' AND a.due_date < $4::date))) AS missed,
                sum(a.n) FILTER (WHERE NOT a.excluded AND a.status = 'pending' AND a.due_date >= $4::date) AS not_yet_due,
                ${DAYS_LATE_BUCKETS.map(
                  (b, i) =>
                    `sum(a.n) FILTER (WHERE NOT a.excluded AND a.status = 'met' AND a.days_late >= ${b.from}${b.to === null ? '' : ` AND a.days_late <= ${b.to}`}) AS bucket_${i}`,
                ).join(',\n                ')}
         FROM ${spanRows('report_first_conversations', 1)}
         WHERE ($5::text[] IS NULL OR a.municipality = ANY($5))`,
        [...spanParams(periodSpans(from, to)), asOf, placesOf(f)],
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

    /** Conversations held in the period, by mode (a conversation without one as 'unknown'). */
    async conversationModes(from: IsoDate, to: IsoDate, f: ReportFilter) {
      const rows = await db.query<{ mode: string; n: string }>(
        `SELECT a.mode, sum(a.n) AS n FROM ${spanRows('report_conversations', 1)}
         WHERE ($4::text[] IS NULL OR a.municipality = ANY($4))
         GROUP BY 1 HAVING sum(a.n) > 0 ORDER BY 1`,
        [...spanParams(periodSpans(from, to)), placesOf(f)],
      );
      const modes: Record<string, number> = { 'in-person': 0, phone: 0, video: 0 };
      for (const r of rows) modes[r.mode] = Number(r.n);
      return { from, to, municipality: f.municipality ?? null, ...(f.reach ? { municipalities: [...f.reach] } : {}), total: rows.reduce((sum, r) => sum + Number(r.n), 0), modes };
    },

    /**
     * What a policy did: cases that applied it, and the deadlines it moved and by how much (a bound key: in its
     * municipalities). A case is counted once: its count row is keyed by its set of municipalities, matched
     * when that set overlaps the key's.
     */
    async policyImpact(policyId: string, reach?: readonly string[]) {
      const r = reach ? [...reach] : null;
      const cases = await db.query<{ source: string; n: string }>(
        `SELECT source, sum(n) AS n FROM report_policy_cases
         WHERE policy_id = $1 AND ($2::text[] IS NULL OR municipalities && $2) GROUP BY source`,
        [policyId, r],
      );
      const byKind = await db.query<Record<string, string | number | null>>(
        `SELECT kind, sum(n) AS deadlines,
                sum(n) FILTER (WHERE status = 'paused' AND moved_days IS NULL) AS paused_without_date,
                sum(n) FILTER (WHERE status = 'waived') AS waived,
                sum(n) FILTER (WHERE moved_days IS NOT NULL AND moved_days <> 0) AS moved,
                coalesce(sum(moved_days * n) FILTER (WHERE moved_days IS NOT NULL), 0) AS days_total,
                max(moved_days) FILTER (WHERE n > 0) AS days_max
         FROM report_policy_deadlines WHERE policy_id = $1 AND ($2::text[] IS NULL OR municipality = ANY($2))
         GROUP BY kind HAVING sum(n) > 0 ORDER BY kind`,
        [policyId, r],
      );
      const casesFrom = (source: string) => Number(cases.find((c) => c.source === source)?.n ?? 0);
      const sum = (k: string) => byKind.reduce((total, row) => total + Number(row[k] ?? 0), 0);
      const maxima = byKind.map((row) => row.days_max).filter((v) => v !== null).map(Number);
      return {
        policyId,
        ...(reach ? { municipalities: [...reach] } : {}),
        casesTouched: casesFrom('applied'),
        casesWithDeadlinesAffected: casesFrom('deadlines'),
        deadlinesAffected: sum('deadlines'),
        deadlinesMoved: sum('moved'),
        deadlinesPausedWithoutDate: sum('paused_without_date'),
        deadlinesWaived: sum('waived'),
        daysMovedTotal: sum('days_total'),
        daysMovedMax: maxima.length === 0 ? null : Math.max(...maxima),
        daysMovedAverage: sum('moved') === 0 ? null : Math.round((sum('days_total') / sum('moved')) * 10) / 10,
        byKind: byKind.map((k) => ({ kind: String(k.kind), deadlines: Number(k.deadlines), daysMovedTotal: Number(k.days_total) })),
      };
    },
  };
}

export type Reports = ReturnType<typeof createReports>;
