import { temporal } from '@temporalio/proto';
import { addDays, copenhagenDate } from '../../workflows/domain/dates';
import { type PolicyRevision } from '../../workflows/domain/types';
import { caseWorkflowId, readModelSnapshotQuery } from '../../workflows/messages';
import { eventually, settledCases, startSystem, type TestSystem } from '../support/system';

/**
 * What a case's history pays when a fan-out applies a policy revision to it (issue #21, design (a)), on the
 * real dev server with the real worker and Postgres: one workflow task (the Update's), no activity of the
 * case's own, and the row written by the fan-out at the case's new change counter.
 */
let system: TestSystem;

beforeAll(async () => {
  system = await startSystem({ taskQueue: 'application-cost' });
});

afterAll(async () => {
  await system?.stop();
});

const today = () => copenhagenDate(Date.now());
type HistoryEvent = { eventType?: unknown; workflowTaskCompletedEventAttributes?: unknown };

/** EVENT_TYPE_WORKFLOW_TASK_COMPLETED → WorkflowTaskCompleted. */
function typeName(type: unknown): string {
  const names = Object.entries(temporal.api.enums.v1.EventType);
  const name = typeof type === 'number' ? (names.find(([, v]) => v === type)?.[0] ?? String(type)) : String(type);
  return name
    .replace(/^EVENT_TYPE_/, '')
    .toLowerCase()
    .replace(/(^|_)([a-z])/g, (_m, _s, c: string) => c.toUpperCase());
}

/** The case's history once it is idle: no task and no activity pending. */
async function idleHistory(caseId: string): Promise<string[]> {
  const handle = system.env.client.workflow.getHandle(caseWorkflowId(caseId));
  const seen = await eventually(
    async () => {
      const described = await handle.describe();
      const events = ((await handle.fetchHistory()).events ?? []) as HistoryEvent[];
      return { idle: (described.raw.pendingActivities ?? []).length === 0 && !described.raw.pendingWorkflowTask, events };
    },
    (h) => h.idle,
    `${caseId} idle`,
  );
  return seen.events.map((e) => typeName(e.eventType));
}

test.each([
  ['a revision that leaves the wake-up date (switch to phone)', 'PHONE', { type: 'switchConversationMode', mode: 'phone' }],
  ['a revision that moves the wake-up date (pause)', 'PAUSE', { type: 'pauseDeadlines' }],
] as const)('a fan-out applying %s costs the case one workflow task and no activity; the fan-out writes its row', async (_what, name, effect) => {
  const caseId = `COST-${name}-${Date.now().toString(36)}`;
  const municipality = name === 'PHONE' ? '163' : '169';
  expect((await system.api('POST', '/api/v1/cases', { caseId, citizenRef: `REF-${caseId}`, municipality, firstAbsenceDay: addDays(today(), -10) })).status).toBe(201);
  await settledCases({ db: system.db, client: system.env.client }, [caseId]);
  const before = await idleHistory(caseId);
  const counter = (await system.env.client.workflow.getHandle(caseWorkflowId(caseId)).query(readModelSnapshotQuery)).revision;
  const policy: PolicyRevision = {
    policyId: `cost-${name.toLowerCase()}-${Date.now().toString(36)}`,
    revision: 1,
    title: 'Politik',
    effectiveFrom: addDays(today(), -1),
    effectiveTo: null,
    scope: { type: 'municipalities', municipalities: [municipality] },
    effects: [effect as PolicyRevision['effects'][number]],
  };
  expect((await system.api('POST', '/api/v1/policy-changes', policy)).status).toBe(201);
  await eventually(
    () => system.db.query('SELECT 1 FROM case_policies cp WHERE cp.case_id = $1 AND cp.policy_id = $2', [caseId, policy.policyId]),
    (r) => r.length === 1,
    'the row holding the revision',
  );
  const added = (await idleHistory(caseId)).slice(before.length);
  expect(added.filter((t) => t === 'WorkflowTaskCompleted')).toHaveLength(1);
  expect(added.filter((t) => t.startsWith('ActivityTask'))).toEqual([]);
  expect(added).toEqual(expect.arrayContaining(['WorkflowExecutionUpdateAccepted', 'WorkflowExecutionUpdateCompleted']));
  const [written] = await system.db.query<{ revision: number }>('SELECT revision FROM cases WHERE case_id = $1', [caseId]);
  expect(written!.revision).toBe(counter + 1);
  // The task's own three events, the Update's two and the search attributes; a pause that leaves nothing to
  // wake up for cancels the case's timer too.
  const oneTask = ['WorkflowTaskScheduled', 'WorkflowTaskStarted', 'WorkflowTaskCompleted', 'WorkflowExecutionUpdateAccepted', 'UpsertWorkflowSearchAttributes', 'WorkflowExecutionUpdateCompleted'];
  expect(added).toEqual(name === 'PHONE' ? oneTask : [...oneTask, 'TimerCanceled']);
});

test('opening a case costs one workflow task and no activity: the task asks the registry and writes the row by local activity', async () => {
  const caseId = `COST-OPEN-${Date.now().toString(36)}`;
  expect((await system.api('POST', '/api/v1/cases', { caseId, citizenRef: `REF-${caseId}`, municipality: '175', firstAbsenceDay: addDays(today(), -10) })).status).toBe(201);
  await settledCases({ db: system.db, client: system.env.client }, [caseId]);
  const history = await idleHistory(caseId);
  expect(history.filter((t) => t === 'WorkflowTaskCompleted')).toHaveLength(1);
  expect(history.filter((t) => t.startsWith('ActivityTask'))).toEqual([]);
  // Markers: the registry's answer and the row's write (local activities), and each patch() the first task meets.
  expect(history.filter((t) => t === 'MarkerRecorded').length).toBeGreaterThanOrEqual(2);
  expect(history).toEqual(expect.arrayContaining(['WorkflowExecutionStarted', 'TimerStarted']));
  const snapshot = await system.env.client.workflow.getHandle(caseWorkflowId(caseId)).query(readModelSnapshotQuery);
  const [row] = await system.db.query<{ revision: number; fingerprint: string; opening_position: string | null }>('SELECT revision, fingerprint, opening_position FROM cases WHERE case_id = $1', [caseId]);
  expect(row).toMatchObject({ revision: snapshot.revision });
  expect(row!.opening_position).not.toBeNull();
});
