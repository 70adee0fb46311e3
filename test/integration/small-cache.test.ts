import { addDays, copenhagenDate } from '../../workflows/domain/dates';
import { caseWorkflowId, readModelSnapshotQuery } from '../../workflows/messages';
import { eventually, settledCases, startSystem, type TestSystem } from '../support/system';

/**
 * A worker that keeps only three cases in memory, against the real dev server, worker and Postgres.
 * Tasks of cases that are not in memory wait for a cache slot and the SDK evicts other cases to make room:
 * the path that patches/sdk-core-*.patch leaves in place while it skips the cache walk when nothing waits.
 */
let system: TestSystem;
const CACHE = 3;

beforeAll(async () => {
  system = await startSystem({ taskQueue: 'small-cache', maxCachedWorkflows: CACHE });
});

afterAll(async () => {
  await system?.stop();
});

test('with three cases in memory, a policy reaches all ten open cases exactly once and each is paused', async () => {
  const today = copenhagenDate(Date.now());
  const stamp = Date.now().toString(36);
  const ids = Array.from({ length: 10 }, (_, i) => `SMALL-${stamp}-${i}`);
  for (const [i, caseId] of ids.entries()) {
    const res = await system.api('POST', '/api/v1/cases', { caseId, citizenRef: `REF-S${i}`, municipality: '101', firstAbsenceDay: addDays(today, -10) });
    expect(res.status).toBe(201);
  }
  await settledCases({ db: system.db, client: system.env.client }, ids);
  const counters = () => Promise.all(ids.map(async (id) => (await system.env.client.workflow.getHandle(caseWorkflowId(id)).query(readModelSnapshotQuery)).revision));
  const before = await counters();

  const res = await system.api('POST', '/api/v1/policy-changes', {
    policyId: `small-cache-${stamp}`,
    revision: 1,
    title: 'Suspension med lille hukommelse',
    effectiveFrom: addDays(today, -1),
    scope: { type: 'all' },
    effects: [{ type: 'pauseDeadlines', kinds: ['first-conversation'] }],
  });
  expect(res.status).toBe(201);
  const policy = await eventually(
    () => system.api('GET', `/api/v1/policy-changes/small-cache-${stamp}`),
    (r) => r.body.applied === ids.length && r.body.fanouts.every((f: any) => f.status === 'completed'),
    'fan-out applied',
  );
  expect(policy.body.fanouts).toEqual([expect.objectContaining({ kind: 'publish', status: 'completed', matched: ids.length, failed: 0, missing: 0 })]);

  // Applied once each, however often cases were evicted and replayed: each case's own change counter rose by one.
  expect(await counters()).toEqual(before.map((n) => n + 1));
  for (const caseId of ids) {
    const c = (await system.api('GET', `/api/v1/cases/${caseId}`)).body;
    expect(c.deadlines.find((d: any) => d.kind === 'first-conversation')).toMatchObject({ status: 'paused', dueDate: null });
  }
  // The SDK kept to the limit: the other seven cases were evicted and replayed for their tasks.
  expect(system.worker!.getStatus().numCachedWorkflows).toBeLessThanOrEqual(CACHE);
});
