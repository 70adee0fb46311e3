import { addDays, copenhagenDate } from '../../workflows/domain/dates';
import { type PolicyRevision } from '../../workflows/domain/types';
import { applyPolicyUpdate, caseWorkflowId, readModelSnapshotQuery, timelineQuery } from '../../workflows/messages';
import { eventually, startSystem, type TestSystem } from '../support/system';

/**
 * Postgres stops while cases move on: the workflows keep working (events and a policy revision are
 * accepted, each once however often it is sent, and timelines change), and when Postgres returns the read
 * model catches up: each row shows its case's timeline at the case's own change counter.
 */
let system: TestSystem;

beforeAll(async () => {
  system = await startSystem({ taskQueue: 'read-model-outage' });
});

afterAll(async () => {
  await system?.stop();
});

const CASES = ['OUT-1', 'OUT-2', 'OUT-3', 'OUT-4'];
const handle = (caseId: string) => system.env.client.workflow.getHandle(caseWorkflowId(caseId));
/** Each case's change counter, as the case reports it: one more for every event or revision it applies. */
const counters = () => Promise.all(CASES.map(async (caseId) => (await handle(caseId).query(readModelSnapshotQuery)).revision));

async function readModelMatchesWorkflows(): Promise<boolean> {
  const today = copenhagenDate(Date.now());
  for (const caseId of CASES) {
    const timeline = await system.env.client.workflow.getHandle(caseWorkflowId(caseId)).query(timelineQuery, today);
    const rows = await system.db.query<{ deadline_id: string; status: string; due_date: string | null; mode: string | null }>(
      'SELECT deadline_id, status, due_date::text, mode FROM deadlines WHERE case_id = $1 ORDER BY deadline_id',
      [caseId],
    );
    const expected = timeline.deadlines
      .map((d) => ({ deadline_id: d.id, status: d.status, due_date: d.dueDate, mode: d.mode ?? null }))
      .sort((a, b) => a.deadline_id.localeCompare(b.deadline_id));
    if (JSON.stringify(rows) !== JSON.stringify(expected)) return false;
    const [c] = await system.db.query<{ category: number | null; status: string }>('SELECT category, status FROM cases WHERE case_id = $1', [caseId]);
    if (c?.category !== timeline.category || c?.status !== timeline.status) return false;
  }
  return true;
}

test('while Postgres is down the cases move on; afterwards the read model converges exactly', async () => {
  const today = copenhagenDate(Date.now());
  for (const caseId of CASES) {
    expect((await system.api('POST', '/api/v1/cases', { caseId, citizenRef: `REF-${caseId}`, municipality: '101', firstAbsenceDay: addDays(today, -30) })).status).toBe(201);
  }
  await eventually(readModelMatchesWorkflows, (ok) => ok, 'read model before the outage');
  const before = await counters();

  await system.pg.stop();
  expect((await system.api('GET', '/readyz')).status).toBe(503);
  // Each event and the revision are sent twice, as a caller or a fan-out that lost the first answer sends them.
  for (const [i, caseId] of CASES.entries()) {
    const event = { eventId: 'during-outage', type: 'conversation-held', occurredOn: addDays(today, -i), mode: i % 2 ? 'phone' : 'in-person', category: i === 3 ? 3 : 2 };
    for (let attempt = 0; attempt < 2; attempt++) {
      const moved = await system.api('POST', `/api/v1/cases/${caseId}/events`, event);
      expect(moved.status).toBe(200);
      expect(moved.body.deadlines.find((d: any) => d.id === 'first-conversation').status).toBe('met');
    }
  }
  const policy: PolicyRevision = {
    policyId: 'outage-waiver',
    revision: 1,
    title: 'Attestfrister frafaldet',
    effectiveFrom: addDays(today, -1),
    effectiveTo: null,
    scope: { type: 'municipalities', municipalities: ['101'] },
    effects: [{ type: 'waiveDeadlines', kinds: ['certificate'] }],
  };
  for (const caseId of CASES) {
    const applied = [];
    for (let attempt = 0; attempt < 2; attempt++) applied.push((await handle(caseId).executeUpdate(applyPolicyUpdate, { args: [policy] })).applied);
    expect(applied).toEqual([true, false]);
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    const ended = await system.api('POST', `/api/v1/cases/OUT-1/events`, { eventId: 'end', type: 'recovered', occurredOn: today });
    expect(ended.body.status).toBe('closed');
  }
  // The event and the revision once each, and OUT-1's end: the counters rose by exactly that.
  expect(await counters()).toEqual(before.map((n, i) => n + (i === 0 ? 3 : 2)));

  await system.pg.start();
  await eventually(readModelMatchesWorkflows, (ok) => ok, 'read model after the outage', 300);

  // Each row is the case's newest snapshot: it carries the case's own counter, which rose by exactly what was applied.
  const counted = await counters();
  expect(counted).toEqual(before.map((n, i) => n + (i === 0 ? 3 : 2)));
  const expected = CASES.map((caseId, i) => ({ case_id: caseId, revision: counted[i] }));
  const rows = await eventually(
    () => system.db.query<{ case_id: string; revision: number }>('SELECT case_id, revision FROM cases WHERE case_id = ANY($1) ORDER BY case_id', [CASES]),
    (r) => JSON.stringify(r) === JSON.stringify(expected),
    "rows at the cases' counters",
  );
  expect(rows).toEqual(expected);
  expect(await readModelMatchesWorkflows()).toBe(true);
  const [closed] = await system.db.query<{ status: string; closed_on: string }>(`SELECT status, closed_on::text FROM cases WHERE case_id = 'OUT-1'`);
  expect(closed).toEqual({ status: 'closed', closed_on: today });
  const applied = await system.db.query<{ case_id: string }>(`SELECT case_id FROM case_policies WHERE policy_id = 'outage-waiver' ORDER BY case_id`);
  expect(applied.map((r) => r.case_id)).toEqual(CASES);
});
