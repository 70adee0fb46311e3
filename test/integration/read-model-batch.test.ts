import { writeCaseSnapshots } from '../../activities/read-model';
import { createDb, type Db, migrate } from '../../platform/db';
import { timelineFingerprint } from '../../workflows/domain/fingerprint';
import { ruleSetById } from '../../workflows/domain/rules';
import { computeTimeline } from '../../workflows/domain/timeline';
import { type CaseEvent, type CaseFacts } from '../../workflows/domain/types';
import { suspension2020 as suspension } from '../support/fixtures';
import { startPostgres, type TestPostgres } from '../support/servers';

/**
 * The worker writes many cases' snapshots in one statement (activities/index.ts, recordCaseSnapshot with group commit). A batch must
 * leave each case exactly as its newest snapshot says, whatever else the batch holds.
 */
let pg: TestPostgres;
let db: Db;

beforeAll(async () => {
  pg = await startPostgres();
  db = createDb(pg.url);
  await migrate(db);
});

afterAll(async () => {
  await db?.close();
  await pg?.cleanup();
});

const rules = ruleSetById('2020');
const suspension2020 = suspension();
const facts = (caseId: string, municipality: string): CaseFacts => ({ caseId, citizenRef: `REF-${caseId}`, municipality, firstAbsenceDay: '2020-02-10', employment: 'employee' });
const deadlinesOf = (caseId: string) =>
  db.query<{ deadline_id: string; status: string; due_date: string | null }>(
    'SELECT deadline_id, status, due_date::text FROM deadlines WHERE case_id = $1 ORDER BY deadline_id',
    [caseId],
  );
const expected = (t: ReturnType<typeof computeTimeline>) =>
  t.deadlines.map((d) => ({ deadline_id: d.id, status: d.status, due_date: d.dueDate })).sort((a, b) => a.deadline_id.localeCompare(b.deadline_id));

test('a batch writes each case as its newest snapshot, its policies once, and leaves newer rows alone', async () => {
  const held: CaseEvent[] = [{ eventId: 'c1', type: 'conversation-held', occurredOn: '2020-02-25', mode: 'phone' }];
  const a1 = computeTimeline(facts('B-1', '101'), [], [], rules, '2020-02-20');
  const a2 = computeTimeline(facts('B-1', '101'), held, [], rules, '2020-03-01');
  const a3 = computeTimeline(facts('B-1', '101'), held, [suspension2020], rules, '2020-04-01');
  const b1 = computeTimeline(facts('B-2', '751'), [], [suspension2020], rules, '2020-04-01');
  // B-1's newest (3) comes first and an older one (2) after it, in the same batch; B-2 shares the batch.
  await writeCaseSnapshots(db, [
    { workflowId: 'wf-B-1', revision: 3, timeline: a3 },
    { workflowId: 'wf-B-2', revision: 1, timeline: b1 },
    { workflowId: 'wf-B-1', revision: 2, timeline: a2 },
  ]);
  expect(await db.query('SELECT case_id, revision, municipality FROM cases ORDER BY case_id')).toEqual([
    { case_id: 'B-1', revision: 3, municipality: '101' },
    { case_id: 'B-2', revision: 1, municipality: '751' },
  ]);
  expect(await deadlinesOf('B-1')).toEqual(expected(a3));
  expect(await deadlinesOf('B-2')).toEqual(expected(b1));
  // The snapshots differ where it matters: in the newest, the suspension has paused the next conversation.
  const statuses = (t: typeof a3) => Object.fromEntries(t.deadlines.map((d) => [d.id, d.status]));
  expect(statuses(a3)).toEqual({ 'first-conversation': 'met', 'follow-up-conversation-1': 'paused', 'reassessment-1': 'pending' });
  expect(statuses(a2)).toEqual({ 'first-conversation': 'met', 'follow-up-conversation-1': 'pending', 'reassessment-1': 'pending' });

  // A later batch with B-1's older snapshot and the same policy again changes nothing for B-1.
  await writeCaseSnapshots(db, [{ workflowId: 'wf-B-1', revision: 1, timeline: a1 }]);
  expect(await deadlinesOf('B-1')).toEqual(expected(a3));
  expect(await db.query(`SELECT case_id, policy_id, revision FROM case_policies ORDER BY case_id`)).toEqual([
    { case_id: 'B-1', policy_id: suspension2020.policyId, revision: suspension2020.revision },
    { case_id: 'B-2', policy_id: suspension2020.policyId, revision: suspension2020.revision },
  ]);

  // An empty batch is no statement at all.
  await expect(writeCaseSnapshots(db, [])).resolves.toEqual({ otherRun: [] });
});

const rowOf = (caseId: string) =>
  db.query<{ revision: number; run_id: string | null; fingerprint: string; category: number | null }>('SELECT revision, run_id, fingerprint, category FROM cases WHERE case_id = $1', [caseId]);
const policiesOf = (caseId: string) => db.query<{ policy_id: string; revision: number }>('SELECT policy_id, revision FROM case_policies WHERE case_id = $1 ORDER BY policy_id, revision', [caseId]);

test('a row follows its run: a snapshot of another run is handed back until Temporal confirms that run current, then replaces the row whatever its revision', async () => {
  const held: CaseEvent[] = [{ eventId: 'c1', type: 'conversation-held', occurredOn: '2020-02-25', mode: 'phone' }];
  const categorized: CaseEvent[] = [...held, { eventId: 'e1', type: 'categorized', category: 2, occurredOn: '2020-02-26' }];
  const withE1 = computeTimeline(facts('R-1', '101'), categorized, [suspension2020], rules, '2020-04-01');
  const afterReset = computeTimeline(facts('R-1', '101'), held, [], rules, '2020-04-01');
  await writeCaseSnapshots(db, [{ workflowId: 'wf-R-1', runId: 'run-a', revision: 6, timeline: withE1 }]);
  expect(await rowOf('R-1')).toEqual([{ revision: 6, run_id: 'run-a', fingerprint: timelineFingerprint(withE1), category: 2 }]);
  expect(await policiesOf('R-1')).toEqual([{ policy_id: suspension2020.policyId, revision: suspension2020.revision }]);

  // A reset: the new run starts again from an earlier revision, without e1 and without the policy.
  const reset = { workflowId: 'wf-R-1', runId: 'run-b', revision: 5, timeline: afterReset };
  expect(await writeCaseSnapshots(db, [reset])).toEqual({ otherRun: [{ ...reset, rowRunId: 'run-a' }] });
  expect((await rowOf('R-1'))[0]).toMatchObject({ revision: 6, run_id: 'run-a' });
  // Confirmed current, but the row is no longer the one Temporal was asked about: it stays.
  expect(await writeCaseSnapshots(db, [reset], { currentRun: new Map([['R-1', 'run-z']]) })).toEqual({ otherRun: [] });
  expect((await rowOf('R-1'))[0]).toMatchObject({ revision: 6, run_id: 'run-a' });
  // Confirmed current over the row of run-a: it replaces the row, and case_policies, the deadlines and the fingerprint follow it.
  expect(await writeCaseSnapshots(db, [reset], { currentRun: new Map([['R-1', 'run-a']]) })).toEqual({ otherRun: [] });
  expect(await rowOf('R-1')).toEqual([{ revision: 5, run_id: 'run-b', fingerprint: timelineFingerprint(afterReset), category: null }]);
  expect(await policiesOf('R-1')).toEqual([]);
  expect(await deadlinesOf('R-1')).toEqual(expected(afterReset));

  // A late write of the old run, even at a higher revision, is handed back (Temporal will say it is not current).
  const late = { workflowId: 'wf-R-1', runId: 'run-a', revision: 7, timeline: withE1 };
  expect(await writeCaseSnapshots(db, [late])).toEqual({ otherRun: [{ ...late, rowRunId: 'run-b' }] });
  expect((await rowOf('R-1'))[0]).toMatchObject({ revision: 5, run_id: 'run-b' });
  // Within the run, a row only moves forward; an older snapshot of the same run changes nothing.
  const next = { workflowId: 'wf-R-1', runId: 'run-b', revision: 6, timeline: withE1 };
  expect(await writeCaseSnapshots(db, [next])).toEqual({ otherRun: [] });
  expect((await rowOf('R-1'))[0]).toMatchObject({ revision: 6, run_id: 'run-b', category: 2 });
  expect(await writeCaseSnapshots(db, [reset])).toEqual({ otherRun: [] });
  expect((await rowOf('R-1'))[0]).toMatchObject({ revision: 6, run_id: 'run-b', category: 2 });
  expect(await policiesOf('R-1')).toEqual([{ policy_id: suspension2020.policyId, revision: suspension2020.revision }]);
});

test('a snapshot scheduled by a worker from before runs were recorded is ordered by revision alone, and records no run', async () => {
  const t1 = computeTimeline(facts('L-1', '101'), [], [], rules, '2020-02-20');
  const t2 = computeTimeline(facts('L-1', '101'), [], [suspension2020], rules, '2020-04-01');
  await writeCaseSnapshots(db, [{ workflowId: 'wf-L-1', revision: 1, timeline: t1 }]);
  expect((await rowOf('L-1'))[0]).toMatchObject({ revision: 1, run_id: null });
  // The first write of a run that records itself moves the legacy row forward and records its run.
  expect(await writeCaseSnapshots(db, [{ workflowId: 'wf-L-1', runId: 'run-1', revision: 2, timeline: t2 }])).toEqual({ otherRun: [] });
  expect((await rowOf('L-1'))[0]).toMatchObject({ revision: 2, run_id: 'run-1' });
  // A legacy retry at an older revision changes nothing.
  expect(await writeCaseSnapshots(db, [{ workflowId: 'wf-L-1', revision: 1, timeline: t1 }])).toEqual({ otherRun: [] });
  expect((await rowOf('L-1'))[0]).toMatchObject({ revision: 2, run_id: 'run-1', fingerprint: timelineFingerprint(t2) });

  // A legacy row that a run's snapshot would not move (a reset of a case from before runs were recorded) is
  // handed back for Temporal to say which run is current.
  const u1 = computeTimeline(facts('L-2', '101'), [], [], rules, '2020-02-20');
  const u2 = computeTimeline(facts('L-2', '101'), [], [suspension2020], rules, '2020-04-01');
  await writeCaseSnapshots(db, [{ workflowId: 'wf-L-2', revision: 5, timeline: u2 }]);
  const reset = { workflowId: 'wf-L-2', runId: 'run-new', revision: 3, timeline: u1 };
  expect(await writeCaseSnapshots(db, [reset])).toEqual({ otherRun: [{ ...reset, rowRunId: null }] });
  expect((await rowOf('L-2'))[0]).toMatchObject({ revision: 5, run_id: null });
  expect(await writeCaseSnapshots(db, [reset], { currentRun: new Map([['L-2', null]]) })).toEqual({ otherRun: [] });
  expect((await rowOf('L-2'))[0]).toMatchObject({ revision: 3, run_id: 'run-new', fingerprint: timelineFingerprint(u1) });
});

test("a first task's fenced write replaces only an earlier attempt's, at any revision, and never a row the run wrote after its first task", async () => {
  const run = 'run-F-1';
  const opened = computeTimeline(facts('F-1', '101'), [], [], rules, '2020-02-20');
  const paused = computeTimeline(facts('F-1', '101'), [], [suspension2020], rules, '2020-04-01');
  const row = async () => (await db.query<{ revision: number; fingerprint: string; opening_at: string | null }>('SELECT revision, fingerprint, opening_at FROM cases WHERE case_id = $1', ['F-1']))[0];
  const first = (revision: number, timeline: typeof opened, position: number, at: number) => ({ workflowId: 'wf-F-1', runId: run, revision, timeline, opening: { position, at } });
  // An attempt that found the suspension (revision 2) wrote, and died; its retry found nothing newer in scope
  // (revision 1), later: the retry's row wins although its revision is lower.
  await writeCaseSnapshots(db, [first(2, paused, 7, 1_000)]);
  await writeCaseSnapshots(db, [first(1, opened, 7, 2_000)]);
  expect(await row()).toEqual({ revision: 1, fingerprint: timelineFingerprint(opened), opening_at: '2000' });
  // The first attempt's write arriving late (a worker that lived on) changes nothing, alone or in a batch.
  await writeCaseSnapshots(db, [first(2, paused, 7, 1_000)]);
  await writeCaseSnapshots(db, [first(1, opened, 7, 2_000), first(2, paused, 7, 1_000)]);
  expect(await row()).toEqual({ revision: 1, fingerprint: timelineFingerprint(opened), opening_at: '2000' });
  // A write the run made after its first task (the fan-out's caller, the next change) clears the fence, and no
  // first task's write replaces it, whatever its revision.
  await writeCaseSnapshots(db, [{ workflowId: 'wf-F-1', runId: run, revision: 2, timeline: paused }]);
  await writeCaseSnapshots(db, [first(3, opened, 9, 3_000)]);
  expect(await row()).toEqual({ revision: 2, fingerprint: timelineFingerprint(paused), opening_at: null });
  // In one batch, the later write of the run wins over a first task's write.
  const other = { workflowId: 'wf-F-2', runId: 'run-F-2' };
  await writeCaseSnapshots(db, [
    { ...other, revision: 2, timeline: { ...paused, caseId: 'F-2' } },
    { ...other, revision: 5, timeline: { ...opened, caseId: 'F-2' }, opening: { position: 9, at: 3_000 } },
  ]);
  expect((await db.query<{ revision: number }>('SELECT revision FROM cases WHERE case_id = $1', ['F-2']))[0]).toEqual({ revision: 2 });
});
