import { writeCaseSnapshots } from '../../activities/read-model';
import { createReports, type Reports } from '../../api/reports';
import { createDb, type Db, migrate } from '../../platform/db';
import { ruleSetById } from '../../workflows/domain/rules';
import { computeTimeline } from '../../workflows/domain/timeline';
import { type CaseEvent, type CaseFacts } from '../../workflows/domain/types';
import { suspension2020 } from '../support/fixtures';
import { startPostgres, type TestPostgres } from '../support/servers';

/**
 * Report figures against a cohort computed by hand. The read model is written exactly as the workflows
 * write it (writeCaseSnapshots with the engine's timeline); the figures are from domain.md's dates.
 *
 * Suspension (pause of conversations) 2020-03-20..2020-05-26; asOf 2020-07-01.
 *   A  F 2020-01-06  first due 03-01  held 02-28 in person      on time
 *   B  F 2020-01-13  first due 03-08  held 03-18 in person      late 10 days
 *   C  F 2020-01-20  first due 03-15  never held                missed (108 days overdue on 07-01)
 *   D  F 2020-02-03  first due 03-29  moved to 06-05, held 06-03 by video   excluded (moved 68 days)
 *   E  F 2020-02-10  first due 04-05  moved to 06-12 (751)      excluded (moved 68 days); never held: 19 days overdue
 *   F  F 2020-01-27  first due 03-22  held 03-10 by phone (751) on time: held before the pause began
 *   G  F 2020-03-30  first due 05-24  counted after the pause: 07-20   excluded (moved 57 days)
 *   H  F 2020-01-02  first due 02-26  held 03-30 by phone       outside the period
 */
let pg: TestPostgres;
let db: Db;
let reports: Reports;
const asOf = '2020-07-01';
const rules = ruleSetById('2020');
const policies = [suspension2020(), suspension2020({ revision: 2, effectiveTo: '2020-05-26' })];

const cohort: [string, string, string, CaseEvent[]][] = [
  ['A', '101', '2020-01-06', [{ eventId: 'a1', type: 'conversation-held', occurredOn: '2020-02-28', mode: 'in-person' }]],
  ['B', '101', '2020-01-13', [{ eventId: 'b1', type: 'conversation-held', occurredOn: '2020-03-18', mode: 'in-person' }]],
  ['C', '101', '2020-01-20', []],
  ['D', '101', '2020-02-03', [{ eventId: 'd1', type: 'conversation-held', occurredOn: '2020-06-03', mode: 'video' }]],
  ['E', '751', '2020-02-10', []],
  ['F', '751', '2020-01-27', [{ eventId: 'f1', type: 'conversation-held', occurredOn: '2020-03-10', mode: 'phone' }]],
  ['G', '101', '2020-03-30', []],
  ['H', '101', '2020-01-02', [{ eventId: 'h1', type: 'conversation-held', occurredOn: '2020-03-30', mode: 'phone' }]],
];

beforeAll(async () => {
  pg = await startPostgres();
  db = createDb(pg.url);
  await migrate(db);
  reports = createReports(db);
  for (const [id, municipality, firstAbsenceDay, events] of cohort) {
    const facts: CaseFacts = { caseId: `R-${id}`, citizenRef: `REF-${id}`, municipality, firstAbsenceDay, employment: 'employee' };
    const timeline = computeTimeline(facts, events, policies, rules, asOf);
    // Written twice, and an older snapshot after the newer one: the read model must not change.
    await writeCaseSnapshots(db, [{ workflowId: `wf-${id}`, revision: 2, timeline }]);
    await writeCaseSnapshots(db, [{ workflowId: `wf-${id}`, revision: 2, timeline }]);
    await writeCaseSnapshots(db, [{ workflowId: `wf-${id}`, revision: 1, timeline: computeTimeline(facts, [], [], rules, '2020-01-01') }]);
  }
});

afterAll(async () => {
  await db?.close();
  await pg?.cleanup();
});

test('timeliness of first conversations takes the suspension out instead of counting it late', async () => {
  expect(await reports.timeliness('2020-03-01', '2020-05-31', asOf, {})).toEqual({
    from: '2020-03-01',
    to: '2020-05-31',
    asOf,
    municipality: null,
    total: 7,
    onTime: 2,
    late: 1,
    missed: 1,
    excludedByPolicy: 3,
    notYetDue: 0,
    timelinessRate: 0.5,
    daysLateDistribution: { '1-7': 0, '8-14': 1, '15-21': 0, '22+': 0 },
  });
  expect(await reports.timeliness('2020-03-01', '2020-05-31', asOf, { municipality: '751' })).toMatchObject({
    total: 2,
    onTime: 1,
    late: 0,
    missed: 0,
    excludedByPolicy: 1,
    timelinessRate: 1,
  });
});

test('overdue and upcoming deadlines', async () => {
  const e = { caseId: 'R-E', municipality: '751', deadlineId: 'first-conversation', kind: 'first-conversation', dueDate: '2020-06-12', daysOverdue: 19 };
  expect(await reports.overdue(asOf, { kind: 'first-conversation' })).toEqual({
    asOf,
    total: 2,
    count: 2,
    rows: [{ caseId: 'R-C', municipality: '101', deadlineId: 'first-conversation', kind: 'first-conversation', dueDate: '2020-03-15', daysOverdue: 108 }, e],
  });
  expect((await reports.overdue(asOf, { kind: 'first-conversation', municipality: '751' })).rows).toEqual([e]);
  expect((await reports.upcoming(asOf, 30, { kind: 'first-conversation' })).rows).toEqual([
    { caseId: 'R-G', municipality: '101', deadlineId: 'first-conversation', kind: 'first-conversation', dueDate: '2020-07-20', status: 'pending', mode: 'in-person' },
  ]);
});

test('conversation modes held in a period', async () => {
  expect(await reports.conversationModes('2020-03-01', '2020-06-30', {})).toEqual({
    from: '2020-03-01',
    to: '2020-06-30',
    municipality: null,
    total: 4,
    modes: { 'in-person': 1, phone: 2, video: 1 },
  });
});

test('the impact of the suspension: cases touched, first conversations moved and by how much', async () => {
  const impact = await reports.policyImpact('covid-suspension');
  expect(impact.casesTouched).toBe(8);
  expect(impact.byKind.find((k) => k.kind === 'first-conversation')).toEqual({ kind: 'first-conversation', deadlines: 3, daysMovedTotal: 68 + 68 + 57 });
  expect(impact.deadlinesWaived).toBe(0);
  expect(impact.deadlinesPausedWithoutDate).toBe(0);
  expect((await reports.policyImpact('no-such-policy')).casesTouched).toBe(0);
});

test('repeated and older snapshots leave one row per case and deadline', async () => {
  const [cases] = await db.query<{ n: string }>('SELECT count(*) AS n FROM cases');
  const [dupes] = await db.query<{ n: string }>('SELECT count(*) AS n FROM (SELECT case_id, deadline_id FROM deadlines GROUP BY 1, 2 HAVING count(*) > 1) x');
  const [revisions] = await db.query<{ n: string }>('SELECT count(*) AS n FROM cases WHERE revision <> 2');
  expect([cases!.n, dupes!.n, revisions!.n]).toEqual(['8', '0', '0']);
});
