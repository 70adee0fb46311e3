import { startLocalPostgres, type LocalPostgres } from '../../platform/local-postgres';
import { addDays, copenhagenDate } from '../../workflows/domain/dates';
import { caseWorkflowId, timelineQuery } from '../../workflows/messages';
import { eventually, startSystem, type TestSystem } from '../support/system';

/**
 * Postgres stops while cases move on: the workflows keep working (events are accepted, timelines
 * change), and when Postgres returns the read model catches up, with no duplicate and no missing row.
 */
let system: TestSystem;
let restarted: LocalPostgres | undefined;

beforeAll(async () => {
  system = await startSystem({ taskQueue: 'read-model-outage' });
});

afterAll(async () => {
  await restarted?.stop();
  await system?.stop();
});

const CASES = ['OUT-1', 'OUT-2', 'OUT-3', 'OUT-4'];

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

  await system.pg.stop();
  expect((await system.api('GET', '/readyz')).status).toBe(503);
  for (const [i, caseId] of CASES.entries()) {
    const moved = await system.api('POST', `/api/v1/cases/${caseId}/events`, {
      eventId: 'during-outage',
      type: 'conversation-held',
      occurredOn: addDays(today, -i),
      mode: i % 2 ? 'phone' : 'in-person',
      category: i === 3 ? 3 : 2,
    });
    expect(moved.status).toBe(200);
    expect(moved.body.deadlines.find((d: any) => d.id === 'first-conversation').status).toBe('met');
  }
  const ended = await system.api('POST', `/api/v1/cases/OUT-1/events`, { eventId: 'end', type: 'recovered', occurredOn: today });
  expect(ended.body.status).toBe('closed');

  restarted = await startLocalPostgres({ dataDir: system.pg.dataDir, port: system.pg.port, database: 'sygedagpenge_test' });
  await eventually(readModelMatchesWorkflows, (ok) => ok, 'read model after the outage', 300);

  const [dupes] = await system.db.query<{ n: string }>('SELECT count(*) AS n FROM (SELECT case_id, deadline_id FROM deadlines GROUP BY 1, 2 HAVING count(*) > 1) x');
  const [cases] = await system.db.query<{ n: string }>(`SELECT count(*) AS n FROM cases WHERE case_id LIKE 'OUT-%'`);
  const [closed] = await system.db.query<{ status: string; closed_on: string }>(`SELECT status, closed_on::text FROM cases WHERE case_id = 'OUT-1'`);
  expect([dupes!.n, cases!.n]).toEqual(['0', String(CASES.length)]);
  expect(closed).toEqual({ status: 'closed', closed_on: today });
});
