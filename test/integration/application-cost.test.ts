import { temporal } from '@temporalio/proto';
import { addDays, copenhagenDate } from '../../workflows/domain/dates';
import { type PolicyRevision } from '../../workflows/domain/types';
import { caseWorkflowId, policyChangeSignal, readModelSnapshotQuery } from '../../workflows/messages';
import { eventually, settledCases, startSystem, type TestSystem } from '../support/system';

/**
 * What a case's history pays for the work a national policy does (issue #21), on the real dev server with
 * the real worker and Postgres: opening a case is one workflow task, and applying a policy revision is one
 * workflow task of at most six history events, the read-model write included.
 */
let system: TestSystem;

beforeAll(async () => {
  system = await startSystem({ taskQueue: 'application-cost' });
});

afterAll(async () => {
  await system?.stop();
});

const today = () => copenhagenDate(Date.now());
type HistoryEvent = { eventType?: unknown; eventId?: unknown; workflowTaskCompletedEventAttributes?: unknown };

/** The case's history once it is idle: no task and no activity pending. */
async function idleHistory(caseId: string): Promise<{ types: string[]; length: number }> {
  const handle = system.env.client.workflow.getHandle(caseWorkflowId(caseId));
  const seen = await eventually(
    async () => {
      const described = await handle.describe();
      const events = ((await handle.fetchHistory()).events ?? []) as HistoryEvent[];
      const idle = (described.raw.pendingActivities ?? []).length === 0 && !described.raw.pendingWorkflowTask && events.some((e) => e.workflowTaskCompletedEventAttributes);
      return { idle, events };
    },
    (h) => h.idle,
    `${caseId} idle`,
  );
  return { types: seen.events.map((e) => typeName(e.eventType)), length: seen.events.length };
}

/** EVENT_TYPE_WORKFLOW_TASK_COMPLETED → WorkflowTaskCompleted. */
function typeName(type: unknown): string {
  const names = Object.entries(temporal.api.enums.v1.EventType);
  const name = typeof type === 'number' ? (names.find(([, v]) => v === type)?.[0] ?? String(type)) : String(type);
  return name
    .replace(/^EVENT_TYPE_/, '')
    .toLowerCase()
    .replace(/(^|_)([a-z])/g, (_m, _s, c: string) => c.toUpperCase());
}

test('opening a case costs one workflow task, whose read-model write is a local activity', async () => {
  const caseId = `COST-OPEN-${Date.now().toString(36)}`;
  expect((await system.api('POST', '/api/v1/cases', { caseId, citizenRef: 'REF-COST-1', municipality: '101', firstAbsenceDay: addDays(today(), -10) })).status).toBe(201);
  await settledCases({ db: system.db, client: system.env.client }, [caseId]);
  const { types } = await idleHistory(caseId);
  expect(types.filter((t) => t === 'WorkflowTaskCompleted')).toHaveLength(1);
  expect(types).not.toContain('ActivityTaskScheduled');
  const [row] = await system.db.query<{ revision: number }>('SELECT revision FROM cases WHERE case_id = $1', [caseId]);
  expect(row!.revision).toBe((await system.env.client.workflow.getHandle(caseWorkflowId(caseId)).query(readModelSnapshotQuery)).revision);
});

/** Opens an idle case, signals it `effect` as a policy revision (as a fan-out does), and returns the history events the application added. */
async function applicationEvents(name: string, effect: PolicyRevision['effects'][number]): Promise<string[]> {
  const caseId = `COST-${name}-${Date.now().toString(36)}`;
  expect((await system.api('POST', '/api/v1/cases', { caseId, citizenRef: `REF-${caseId}`, municipality: '101', firstAbsenceDay: addDays(today(), -10) })).status).toBe(201);
  await settledCases({ db: system.db, client: system.env.client }, [caseId]);
  const before = await idleHistory(caseId);
  const handle = system.env.client.workflow.getHandle(caseWorkflowId(caseId));
  const counter = (await handle.query(readModelSnapshotQuery)).revision;
  const policy: PolicyRevision = {
    policyId: `cost-${name.toLowerCase()}-${Date.now().toString(36)}`,
    revision: 1,
    title: 'Politik',
    effectiveFrom: addDays(today(), -1),
    effectiveTo: null,
    scope: { type: 'all' },
    effects: [effect],
  };
  await handle.signal(policyChangeSignal, policy);
  await eventually(() => system.db.query<{ revision: number }>('SELECT revision FROM cases WHERE case_id = $1', [caseId]), (r) => r[0]?.revision === counter + 1, 'the row written');
  return (await idleHistory(caseId)).types.slice(before.length);
}

const ONE_TASK = ['WorkflowExecutionSignaled', 'WorkflowTaskScheduled', 'WorkflowTaskStarted', 'WorkflowTaskCompleted', 'MarkerRecorded', 'UpsertWorkflowSearchAttributes'];

test('a policy revision applied by signal costs one workflow task of six history events, its read-model write a local activity in it', async () => {
  // The commands' events follow the task's completion in the order the workflow gave them.
  expect((await applicationEvents('MODE', { type: 'switchConversationMode', mode: 'phone' })).sort()).toEqual([...ONE_TASK].sort());
});

test("a revision that moves the case's wake-up adds the timer it restarts: eight events, still one task and no activity", async () => {
  // The case wakes at its next due date; a pause moves it, so the timer is cancelled and started again.
  expect((await applicationEvents('PAUSE', { type: 'pauseDeadlines', kinds: ['first-conversation'] })).sort()).toEqual([...ONE_TASK, 'TimerCanceled', 'TimerStarted'].sort());
});
