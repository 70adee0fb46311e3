import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { writeCaseSnapshots } from '../../activities/read-model';
import { createReports, type ReportFilter } from '../../api/reports';
import { createDb, type Db, migrate, migrationsDir } from '../../platform/db';
import { addDays } from '../../workflows/domain/dates';
import { type Timeline } from '../../workflows/domain/types';
import { startPostgres, type TestPostgres } from '../support/servers';

/**
 * The reports read counts that triggers keep (migrations/20261130012500000_report-aggregates.sql). Whatever
 * is written to the read model, and however (the workflows' batch statement, single inserts, updates of many
 * rows, deletes, a case closed or moved, a policy recorded or removed, a rolled-back transaction, a
 * TRUNCATE), every report must equal the same report counted directly from the deadlines: `counted` below is
 * the reports' SQL as it was before the counts, kept here as the reference.
 */
let pg: TestPostgres;
let admin: Db;
let db: Db;
const opened: Db[] = [];

beforeAll(async () => {
  pg = await startPostgres();
  admin = createDb(pg.url, { max: 1 });
  db = await freshDatabase();
  await migrate(db);
});

afterAll(async () => {
  await Promise.all(opened.map((d) => d.close()));
  await admin?.close();
  await pg?.cleanup();
});

let databases = 0;
async function freshDatabase(): Promise<Db> {
  const name = `aggregates_${++databases}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const opened1 = createDb(pg.url.replace(/\/[^/]+$/, `/${name}`), { max: 4 });
  opened.push(opened1);
  return opened1;
}

const BUCKETS = [
  { label: '1-7', from: 1, to: 7 },
  { label: '8-14', from: 8, to: 14 },
  { label: '15-21', from: 15, to: 21 },
  { label: '22+', from: 22, to: null },
] as const;

/** The reports counted straight from cases, deadlines and case_policies: api/reports.ts before the counts. */
function counted(db: Db) {
  const reachOf = (f: ReportFilter): string[] | null => (f.reach ? [...f.reach] : null);
  return {
    async overdue(asOf: string, f: ReportFilter & { limit?: number }) {
      const where = `d.case_open AND d.status IN ('pending', 'missed') AND d.due_date < $1::date
           AND ($2::text IS NULL OR d.municipality = $2) AND ($3::text IS NULL OR d.kind = $3)
           AND ($4::text[] IS NULL OR d.municipality = ANY($4))`;
      const params = [asOf, f.municipality ?? null, f.kind ?? null, reachOf(f)];
      const rows = await db.query(
        `SELECT d.case_id AS "caseId", d.municipality, d.deadline_id AS "deadlineId", d.kind, d.due_date::text AS "dueDate",
                ($1::date - d.due_date) AS "daysOverdue"
         FROM deadlines d WHERE ${where} ORDER BY d.due_date, d.case_id, d.deadline_id LIMIT $5`,
        [...params, f.limit ?? 1000],
      );
      const [total] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM deadlines d WHERE ${where}`, params);
      return { asOf, total: Number(total?.n ?? 0), count: rows.length, rows };
    },
    async upcoming(asOf: string, days: number, f: ReportFilter & { limit?: number }) {
      const rows = await db.query(
        `SELECT d.case_id AS "caseId", d.municipality, d.deadline_id AS "deadlineId", d.kind, d.due_date::text AS "dueDate", d.status, d.mode
         FROM deadlines d
         WHERE d.case_open AND d.status IN ('pending', 'paused') AND d.due_date BETWEEN $1::date AND $1::date + $2::int
           AND ($3::text IS NULL OR d.municipality = $3) AND ($4::text IS NULL OR d.kind = $4)
           AND ($6::text[] IS NULL OR d.municipality = ANY($6))
         ORDER BY d.due_date, d.case_id, d.deadline_id LIMIT $5`,
        [asOf, days, f.municipality ?? null, f.kind ?? null, f.limit ?? 1000, reachOf(f)],
      );
      return { asOf, days, count: rows.length, rows };
    },
    async timeliness(from: string, to: string, asOf: string, f: ReportFilter) {
      const [row] = await db.query<Record<string, string | null>>(
        `WITH d AS (
           SELECT status, days_late, due_date, (status IN ('paused', 'waived') OR cardinality(policy_ids) > 0) AS excluded
           FROM deadlines
           WHERE kind = 'first-conversation' AND original_due_date BETWEEN $1::date AND $2::date
             AND ($4::text IS NULL OR municipality = $4) AND ($5::text[] IS NULL OR municipality = ANY($5)))
         SELECT count(*) AS total, count(*) FILTER (WHERE excluded) AS excluded,
                count(*) FILTER (WHERE NOT excluded AND status = 'met' AND days_late = 0) AS on_time,
                count(*) FILTER (WHERE NOT excluded AND status = 'met' AND days_late > 0) AS late,
                count(*) FILTER (WHERE NOT excluded AND (status = 'missed' OR (status = 'pending' AND due_date < $3::date))) AS missed,
                count(*) FILTER (WHERE NOT excluded AND status = 'pending' AND due_date >= $3::date) AS not_yet_due,
                ${BUCKETS.map((b, i) => `count(*) FILTER (WHERE NOT excluded AND status = 'met' AND days_late >= ${b.from}${b.to === null ? '' : ` AND days_late <= ${b.to}`}) AS bucket_${i}`).join(', ')}
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
        timelinessRate: judged === 0 ? null : Math.round((n('on_time') / judged) * 10_000) / 10_000,
        daysLateDistribution: Object.fromEntries(BUCKETS.map((b, i) => [b.label, n(`bucket_${i}`)])),
      };
    },
    async conversationModes(from: string, to: string, f: ReportFilter) {
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
    async policyImpact(policyId: string, reach?: readonly string[]) {
      const r = reach ? [...reach] : null;
      const [touched] = await db.query<{ n: string }>(
        `SELECT count(DISTINCT cp.case_id) AS n FROM case_policies cp
         WHERE cp.policy_id = $1 AND ($2::text[] IS NULL OR EXISTS (SELECT 1 FROM cases c WHERE c.case_id = cp.case_id AND c.municipality = ANY($2)))`,
        [policyId, r],
      );
      const byKind = await db.query<Record<string, string | number | null>>(
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
      const maxima = byKind.map((row) => row.days_max).filter((v) => v !== null).map(Number);
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
        byKind: byKind.map((k) => ({ kind: String(k.kind), deadlines: Number(k.deadlines), daysMovedTotal: Number(k.days_total) })),
      };
    },
  };
}

// A small world, so that random writes keep hitting the same cases, days and count rows.
const CASES = ['A', 'B', 'C', 'D', 'E'];
const MUNICIPALITIES = ['101', '751', '147'];
const KINDS = ['first-conversation', 'follow-up-conversation', 'reassessment-1'];
const DEADLINE_IDS = ['first-conversation', 'follow-up-1', 'reassessment-1'];
const STATUSES = ['pending', 'met', 'missed', 'paused', 'waived'] as const;
const POLICIES = ['p1', 'p2'];
const MODES = ['in-person', 'phone', 'video', null];
/** 2019-12-20 .. 2021-02-10: across two turns of the year and many months, so all three grains are counted. */
const day = fc.integer({ min: 0, max: 418 }).map((n) => addDays('2019-12-20', n));

const deadlineArb = fc.record({
  id: fc.constantFrom(...DEADLINE_IDS),
  kind: fc.constantFrom(...KINDS),
  original: day,
  moved: fc.option(fc.integer({ min: -5, max: 70 }), { nil: null, freq: 4 }),
  status: fc.oneof({ arbitrary: fc.constant('met' as const), weight: 2 }, { arbitrary: fc.constantFrom(...STATUSES), weight: 3 }),
  metOn: fc.option(day, { nil: null }),
  daysLate: fc.option(fc.integer({ min: -2, max: 40 }), { nil: null }),
  mode: fc.constantFrom(...MODES),
  policyIds: fc.oneof({ arbitrary: fc.constant([]), weight: 1 }, { arbitrary: fc.subarray([...POLICIES, 'p1']), weight: 1 }),
});
type DeadlineArb = typeof deadlineArb extends fc.Arbitrary<infer T> ? T : never;
const dueOf = (d: DeadlineArb) => (d.moved === null ? (d.status === 'paused' ? null : d.original) : addDays(d.original, d.moved));

const opArb = fc.oneof(
  // The workflows' own write: a whole case in one statement (its deadlines replaced, policies recorded).
  { weight: 6, arbitrary: fc.record({
    op: fc.constant('snapshot' as const),
    caseId: fc.constantFrom(...CASES),
    municipality: fc.constantFrom(...MUNICIPALITIES),
    closed: fc.boolean(),
    deadlines: fc.uniqueArray(deadlineArb, { selector: (d) => d.id, maxLength: 3 }),
    policies: fc.subarray(POLICIES),
  }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('upsert-deadline' as const), caseId: fc.constantFrom(...CASES), deadline: deadlineArb }) },
  fc.record({ op: fc.constant('delete-deadline' as const), caseId: fc.constantFrom(...CASES), id: fc.constantFrom(...DEADLINE_IDS) }),
  fc.record({ op: fc.constant('close-case' as const), caseId: fc.constantFrom(...CASES), open: fc.boolean() }),
  fc.record({ op: fc.constant('move-case' as const), caseId: fc.constantFrom(...CASES), municipality: fc.constantFrom(...MUNICIPALITIES) }),
  fc.record({ op: fc.constant('delete-case' as const), caseId: fc.constantFrom(...CASES) }),
  fc.record({ op: fc.constant('record-policy' as const), caseId: fc.constantFrom(...CASES, 'no-case-row'), policyId: fc.constantFrom(...POLICIES), revision: fc.integer({ min: 1, max: 2 }) }),
  fc.record({ op: fc.constant('remove-policy' as const), caseId: fc.constantFrom(...CASES, 'no-case-row'), policyId: fc.constantFrom(...POLICIES) }),
  fc.record({ op: fc.constant('bulk-status' as const), municipality: fc.constantFrom(...MUNICIPALITIES), status: fc.constantFrom(...STATUSES) }),
  fc.record({ op: fc.constant('rolled-back' as const), caseId: fc.constantFrom(...CASES), id: fc.constantFrom(...DEADLINE_IDS) }),
);
type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

let revision = 0;
async function ensureCase(db: Db, caseId: string, municipality = '101'): Promise<void> {
  await db.query(
    `INSERT INTO cases (case_id, workflow_id, municipality, first_absence_day, status, conversation_mode, revision, timeline)
     VALUES ($1, 'wf-' || $1, $2, '2020-01-01', 'open', 'in-person', 0, '{}') ON CONFLICT DO NOTHING`,
    [caseId, municipality],
  );
}

async function apply(db: Db, op: Op): Promise<void> {
  switch (op.op) {
    case 'snapshot': {
      const timeline = {
        caseId: op.caseId,
        municipality: op.municipality,
        firstAbsenceDay: '2020-01-01',
        status: op.closed ? 'closed' : 'open',
        category: null,
        conversationMode: 'in-person',
        closedOn: op.closed ? '2021-01-01' : null,
        deadlines: op.deadlines.map((d) => ({
          id: d.id,
          kind: d.kind,
          dueDate: dueOf(d),
          originalDueDate: d.original,
          status: d.status,
          metOn: d.metOn,
          daysLate: d.daysLate,
          mode: d.mode ?? undefined,
          policyIds: d.policyIds,
        })),
        policies: op.policies.map((policyId) => ({ policyId, revision: 1 })),
      } as unknown as Timeline;
      await writeCaseSnapshots(db, [{ workflowId: `wf-${op.caseId}`, revision: ++revision, timeline }]);
      return;
    }
    case 'upsert-deadline': {
      await ensureCase(db, op.caseId);
      const d = op.deadline;
      await db.query(
        `INSERT INTO deadlines (case_id, deadline_id, kind, municipality, due_date, original_due_date, status, met_on, days_late, mode, policy_ids, case_open, case_revision)
         SELECT $1, $2, $3, c.municipality, $4, $5, $6, $7, $8, $9, $10, c.status <> 'closed', 0 FROM cases c WHERE c.case_id = $1
         ON CONFLICT (case_id, deadline_id) DO UPDATE SET kind = EXCLUDED.kind, due_date = EXCLUDED.due_date, original_due_date = EXCLUDED.original_due_date,
           status = EXCLUDED.status, met_on = EXCLUDED.met_on, days_late = EXCLUDED.days_late, mode = EXCLUDED.mode, policy_ids = EXCLUDED.policy_ids`,
        [op.caseId, d.id, d.kind, dueOf(d), d.original, d.status, d.metOn, d.daysLate, d.mode, d.policyIds],
      );
      return;
    }
    case 'delete-deadline':
      await db.query('DELETE FROM deadlines WHERE case_id = $1 AND deadline_id = $2', [op.caseId, op.id]);
      return;
    case 'close-case':
      await db.transaction(async (tx) => {
        await tx.query(`UPDATE cases SET status = $2 WHERE case_id = $1`, [op.caseId, op.open ? 'open' : 'closed']);
        await tx.query('UPDATE deadlines SET case_open = $2 WHERE case_id = $1', [op.caseId, op.open]);
      });
      return;
    case 'move-case':
      // Only the case row moves: its deadlines keep their municipality, as when a snapshot named another one.
      await db.query('UPDATE cases SET municipality = $2 WHERE case_id = $1', [op.caseId, op.municipality]);
      return;
    case 'delete-case':
      await db.transaction(async (tx) => {
        await tx.query('DELETE FROM deadlines WHERE case_id = $1', [op.caseId]);
        await tx.query('DELETE FROM cases WHERE case_id = $1', [op.caseId]);
      });
      return;
    case 'record-policy':
      await db.query('INSERT INTO case_policies (case_id, policy_id, revision) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [op.caseId, op.policyId, op.revision]);
      return;
    case 'remove-policy':
      await db.query('DELETE FROM case_policies WHERE case_id = $1 AND policy_id = $2', [op.caseId, op.policyId]);
      return;
    case 'bulk-status':
      // Never a missed deadline without a due date: the engine pauses such a deadline before it could be missed
      // (workflows/domain/timeline.ts), and the counts, like the overdue report, count deadlines by their date.
      await db.query(`UPDATE deadlines SET status = $2 WHERE municipality = $1 AND ($2 <> 'missed' OR due_date IS NOT NULL)`, [op.municipality, op.status]);
      return;
    case 'rolled-back':
      await db
        .transaction(async (tx) => {
          await tx.query(`UPDATE deadlines SET status = 'met', met_on = '2020-06-01', days_late = 3 WHERE case_id = $1`, [op.caseId]);
          await tx.query('DELETE FROM deadlines WHERE case_id = $1 AND deadline_id = $2', [op.caseId, op.id]);
          await tx.query(`INSERT INTO case_policies (case_id, policy_id, revision) VALUES ($1, 'p-rolled-back', 1)`, [op.caseId]);
          throw new Error('rolled back on purpose');
        })
        .catch(() => undefined);
      return;
  }
}

/** Filters: none, a municipality, a key's reach, a municipality in and out of the reach, an empty reach. */
const FILTERS: ReportFilter[] = [
  {},
  { municipality: '751' },
  { reach: ['101', '147'] },
  { municipality: '101', reach: ['101', '147'] },
  { municipality: '751', reach: ['101', '147'] },
  { reach: [] },
];
const PERIODS: [string, string][] = [
  ['2019-01-01', '2022-12-31'],
  ['2019-12-25', '2021-01-31'],
  ['2020-02-10', '2020-02-10'],
  ['2020-11-30', '2021-01-02'],
];
const AS_OF = ['2020-01-01', '2020-03-15', '2021-01-01'];

/** Every report, every filter: where the counted reports and the reference differ, as readable lines. */
async function differences(db: Db): Promise<string[]> {
  const fast = createReports(db);
  const slow = counted(db);
  const found: string[] = [];
  const compare = async (what: string, a: Promise<unknown>, b: Promise<unknown>) => {
    const [x, y] = [JSON.stringify(await a), JSON.stringify(await b)];
    if (x !== y) found.push(`${what}\n  counts:    ${x}\n  reference: ${y}`);
  };
  for (const f of FILTERS) {
    for (const asOf of AS_OF) {
      for (const g of [f, { ...f, kind: 'first-conversation' }, { ...f, limit: 2 }]) {
        await compare(`overdue ${asOf} ${JSON.stringify(g)}`, fast.overdue(asOf, g), slow.overdue(asOf, g));
        await compare(`upcoming ${asOf} ${JSON.stringify(g)}`, fast.upcoming(asOf, 60, g), slow.upcoming(asOf, 60, g));
      }
      for (const [from, to] of PERIODS) await compare(`timeliness ${from}..${to} ${asOf} ${JSON.stringify(f)}`, fast.timeliness(from, to, asOf, f), slow.timeliness(from, to, asOf, f));
    }
    for (const [from, to] of PERIODS) await compare(`conversation modes ${from}..${to} ${JSON.stringify(f)}`, fast.conversationModes(from, to, f), slow.conversationModes(from, to, f));
    if (f.municipality === undefined && f.reach === undefined) {
      // The /metrics gauge deadlines_missed, as it counted before the counts.
      const reference = db
        .query<{ kind: string; n: string }>(`SELECT kind, count(*) AS n FROM deadlines WHERE status = 'missed' AND case_open GROUP BY kind ORDER BY kind`)
        .then((rows) => Object.fromEntries(rows.map((r) => [r.kind, Number(r.n)])));
      await compare('missed deadlines by kind (/metrics)', fast.missedByKind(), reference);
    }
    if (f.municipality === undefined) {
      for (const policyId of [...POLICIES, 'no-such-policy']) await compare(`policy impact ${policyId} ${JSON.stringify(f.reach)}`, fast.policyImpact(policyId, f.reach), slow.policyImpact(policyId, f.reach));
    }
  }
  return found;
}

test('after any sequence of writes, every report from the counts equals the report counted from the deadlines', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 10, maxLength: 40 }), async (ops) => {
      // TRUNCATE fires no row triggers: the counts are rebuilt from the (now empty) tables.
      await db.query('TRUNCATE cases, deadlines, case_policies');
      for (const op of ops) await apply(db, op);
      expect(await differences(db)).toEqual([]);
    }),
    // Each run checks some 200 report answers; a failure is shown as found, not shrunk (shrinking would rerun them hundreds of times).
    { numRuns: 25, endOnFailure: true },
  );
});

test('the comparison catches counts that missed a change, and a rebuild puts them right', async () => {
  await db.query('TRUNCATE cases, deadlines, case_policies');
  for (const caseId of CASES) {
    await apply(db, {
      op: 'snapshot',
      caseId,
      municipality: '101',
      closed: false,
      policies: ['p1'],
      deadlines: [
        { id: 'first-conversation', kind: 'first-conversation', original: '2020-02-03', moved: 14, status: 'pending', metOn: null, daysLate: null, mode: 'phone', policyIds: ['p1'] },
        { id: 'follow-up-1', kind: 'follow-up-conversation', original: '2020-03-02', moved: null, status: 'met', metOn: '2020-03-05', daysLate: 3, mode: 'video', policyIds: [] },
      ],
    });
  }
  expect(await differences(db)).toEqual([]);

  // As if the update trigger had a bug: a conversation held that the counts never saw.
  await db.query('ALTER TABLE deadlines DISABLE TRIGGER report_deadlines_updated');
  try {
    await db.query(`UPDATE deadlines SET status = 'met', met_on = '2020-02-10', days_late = 0 WHERE case_id = 'A' AND deadline_id = 'first-conversation'`);
  } finally {
    await db.query('ALTER TABLE deadlines ENABLE TRIGGER report_deadlines_updated');
  }
  const found = (await differences(db)).join('\n');
  expect(found).toMatch(/^overdue /m);
  expect(found).toMatch(/^conversation modes /m);

  await db.query('SELECT report_aggregates_rebuild()');
  expect(await differences(db)).toEqual([]);
});

test('the migration counts what a read model held before it (the backfill)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sfe-aggregates-'));
  try {
    const files = readdirSync(migrationsDir()).filter((f) => f.endsWith('.sql')).sort();
    const before = files.filter((f) => f < '20261130012500000');
    for (const f of before) cpSync(path.join(migrationsDir(), f), path.join(dir, f));
    const old = await freshDatabase();
    await migrate(old, { dir });
    expect(await old.query(`SELECT to_regclass('report_open_deadlines') AS t`)).toEqual([{ t: null }]);
    // The rows are written by today's writer, which also records each row's run, fingerprint and opening fence
    // (later migrations' columns, which they add only where missing).
    await old.query('ALTER TABLE cases ADD COLUMN run_id text, ADD COLUMN fingerprint text, ADD COLUMN opening_position bigint, ADD COLUMN opening_at bigint');

    const ops = fc.sample(opArb, { numRuns: 60, seed: 14 });
    for (const op of ops) await apply(old, op);
    const [{ n } = { n: '0' }] = await old.query<{ n: string }>('SELECT count(*) AS n FROM deadlines');
    expect(Number(n)).toBeGreaterThan(3);

    expect((await migrate(old)).map((m) => m.name)).toEqual(['report-aggregates', 'row-fingerprints', 'opening-fence', 'opening-fence-time']);
    expect(await differences(old)).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writers of different cases at the same time keep the counts exact and do not deadlock', async () => {
  await db.query('TRUNCATE cases, deadlines, case_policies');
  const ops = fc.sample(fc.array(opArb.filter((o) => o.op === 'snapshot' || o.op === 'upsert-deadline' || o.op === 'delete-deadline'), { minLength: 20, maxLength: 20 }), { numRuns: 4, seed: 7 });
  await Promise.all(ops.map(async (list) => {
    for (const op of list) await apply(db, op);
  }));
  expect(await differences(db)).toEqual([]);
});
