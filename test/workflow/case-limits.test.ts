import { type WorkflowHandle, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CaseSnapshot } from '../../activities';
import { createCaseService } from '../../api/case-service';
import { type PolicyRegistry } from '../../policies/registry';
import { type caseWorkflow } from '../../workflows';
import { addDays, copenhagenDate } from '../../workflows/domain/dates';
import { ruleSetFor } from '../../workflows/domain/rules';
import { computeTimeline } from '../../workflows/domain/timeline';
import { type CaseEvent, type CaseFacts, type Category } from '../../workflows/domain/types';
import { CASE_LIMITS } from '../../workflows/domain/validate-event';
import { CaseErrorType, caseEventSignal, caseWorkflowId, type CaseWorkflowInput, readModelSnapshotQuery, reportEventUpdate } from '../../workflows/messages';
import { CaseRevisionKey } from '../../workflows/search-attributes';
import { startTimeSkippingWorker } from '../support/servers';

/**
 * A case at its limits (CASE_LIMITS) on the time-skipping server: the update validator refuses what would take
 * it past them, naming the limit, and the refused event leaves no trace: no history, no change, no snapshot.
 */
let env: TestWorkflowEnvironment;
let stop: () => Promise<void>;
const snapshots: CaseSnapshot[] = [];
/** Cases whose snapshot writes take this many milliseconds, as when Postgres is slow. */
const slowWrites = new Map<string, number>();
const taskQueue = 'case-limits-tests';
let caseNumber = 0;

beforeAll(async () => {
  ({ env, stop } = await startTimeSkippingWorker(taskQueue, {
      async recordCaseSnapshot(snapshot: CaseSnapshot) {
        await sleep(slowWrites.get(snapshot.workflowId) ?? 0);
        snapshots.push(snapshot);
      },
      async policiesPublishedAfter() {
        return [];
      },
      async registryAfter({ position }: { position: number }) {
        return { position, policies: [] };
      },
  }));
});

afterAll(async () => {
  await stop?.();
});

const today = async () => copenhagenDate(await env.currentTimeMs());

async function openCase(F: string, events: CaseEvent[], options: Partial<CaseWorkflowInput> = {}) {
  const facts: CaseFacts = { caseId: `LIMITS-${++caseNumber}`, citizenRef: `REF-${caseNumber}`, municipality: '101', firstAbsenceDay: F, employment: 'employee' };
  const handle = env.client.workflow.getHandle<typeof caseWorkflow>(caseWorkflowId(facts.caseId));
  await env.client.workflow.start<typeof caseWorkflow>('caseWorkflow', { workflowId: handle.workflowId, taskQueue, args: [{ facts, events, ...options }] });
  return { handle, facts };
}

/**
 * The case as it stands once its current run has published it and its read model caught up: its counter, its
 * deadlines, CaseRevision, and the snapshots written.
 */
async function state(handle: WorkflowHandle<typeof caseWorkflow>) {
  const { revision, timeline } = await handle.query(readModelSnapshotQuery);
  const written = () => snapshots.some((s) => s.workflowId === handle.workflowId && s.revision === revision);
  const published = async () => (await handle.describe()).typedSearchAttributes.get(CaseRevisionKey);
  for (let i = 0; i < 200 && (!written() || (await published()) !== revision); i++) await sleep(50);
  return {
    revision,
    deadlines: timeline.deadlines.length,
    caseRevision: await published(),
    snapshots: snapshots.filter((s) => s.workflowId === handle.workflowId).length,
  };
}

async function refusal(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (err as WorkflowUpdateFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

const updatesInHistory = async (handle: WorkflowHandle<typeof caseWorkflow>) =>
  ((await handle.fetchHistory()).events ?? []).filter((e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED).length;

test('past maxEventsPerCase an event is refused naming the limit, and the case, its counter and its read model stay as they were', async () => {
  const now = await today();
  const F = addDays(now, -600);
  const full: CaseEvent[] = Array.from({ length: CASE_LIMITS.maxEventsPerCase }, (_, i) => ({ eventId: `c-${i}`, type: 'certificate-requested', occurredOn: addDays(F, i) }));
  const { handle, facts } = await openCase(F, full);
  const before = await state(handle);
  // 500 certificates, the first conversation and the reassessment.
  expect(before).toMatchObject({ revision: 1, deadlines: 502, caseRevision: 1, snapshots: 1 });

  const refused = await refusal(handle.executeUpdate(reportEventUpdate, { args: [{ eventId: 'one-more', type: 'certificate-requested', occurredOn: now }] }));
  expect(refused.type).toBe(CaseErrorType.CaseLimitReached);
  expect(refused.message).toBe('the case holds 500 events; a case holds at most 500 events (maxEventsPerCase), so the event is not applied');
  expect(refused.details).toEqual([{ name: 'maxEventsPerCase', max: 500 }]);

  // Through the API's case service: a 409 naming the limit (the error middleware answers with its status and code).
  const cases = createCaseService(env.client, { address: '', namespace: 'default', taskQueue, uiUrl: '' }, {} as PolicyRegistry);
  await expect(cases.reportEvent(facts.caseId, { eventId: 'one-more-by-api', type: 'certificate-requested', occurredOn: now })).rejects.toMatchObject({
    status: 409,
    code: 'case-limit-reached',
    details: { eventId: 'one-more-by-api', limit: 'maxEventsPerCase', max: 500 },
  });

  // The same event by signal is dropped; a repeat of an applied event is still a no-op, not a refusal.
  await handle.signal(caseEventSignal, { eventId: 'one-more-by-signal', type: 'certificate-requested', occurredOn: now });
  expect((await handle.executeUpdate(reportEventUpdate, { args: [full[0]!] })).applied).toBe(false);
  expect(await state(handle)).toEqual(before);
  expect(await updatesInHistory(handle)).toBe(1);

  // A full case can still end.
  const ended = await handle.executeUpdate(reportEventUpdate, { args: [{ eventId: 'recovered', type: 'recovered', occurredOn: now }] });
  expect(ended).toMatchObject({ applied: true, timeline: { status: 'closed', closedReason: 'recovered' } });
  expect((await handle.query(readModelSnapshotQuery)).revision).toBe(before.revision + 1);
});

test('an event that would take the case past maxDeadlinesPerCase is refused naming the limit, and nothing changes', async () => {
  const now = await today();
  const F = addDays(now, -600);
  // Conversations alternating categories 3 and 2: each one with category 3 adds a rehabilitation team too.
  const conversations: CaseEvent[] = Array.from({ length: 480 }, (_, i) => ({
    eventId: `v-${i}`,
    type: 'conversation-held',
    mode: 'phone',
    category: (i % 2 === 0 ? 3 : 2) as Category,
    occurredOn: addDays(F, 1 + i),
  }));
  const facts = { caseId: 'X', citizenRef: 'X', municipality: '101', firstAbsenceDay: F, employment: 'employee' } as const;
  const deadlinesAfter = (count: number) => computeTimeline(facts, conversations.slice(0, count), [], ruleSetFor(F), now).deadlines.length;
  const last = conversations.findIndex((_, i) => deadlinesAfter(i + 1) > CASE_LIMITS.maxDeadlinesPerCase);
  const { handle } = await openCase(F, conversations.slice(0, last));
  const before = await state(handle);
  expect(before.deadlines).toBeLessThanOrEqual(CASE_LIMITS.maxDeadlinesPerCase);

  const refused = await refusal(handle.executeUpdate(reportEventUpdate, { args: [conversations[last]!] }));
  expect(refused.type).toBe(CaseErrorType.CaseLimitReached);
  expect(refused.message).toContain('a case holds at most 600 deadlines (maxDeadlinesPerCase)');
  expect(refused.details).toEqual([{ name: 'maxDeadlinesPerCase', max: 600 }]);
  expect(await state(handle)).toEqual(before);
  expect(await updatesInHistory(handle)).toBe(0);
});

test('a run that needs a new one continues as new while events keep arriving, and the next run writes the newest snapshot', async () => {
  // Each change started another write while the last one was in flight, so a run that waited for its read
  // model to be current before continuing as new waited as long as events kept coming: its history grew until
  // Temporal's size limit terminated it, its newest snapshots unwritten (issue #23, on the cluster).
  const now = await today();
  const F = addDays(now, -300);
  const { handle } = await openCase(F, [], { maxHistoryEvents: 60 });
  slowWrites.set(handle.workflowId, 250);
  const firstRunId = (await handle.describe()).runId;
  const firstRun = env.client.workflow.getHandle(handle.workflowId, firstRunId);
  // Four requests at a time until the first run has continued as new, or 400 events: it needs a new run after
  // about 12, and continues as new once its write in flight is done.
  const most = 400;
  let sent = 0;
  let continued = false;
  await Promise.all(
    Array.from({ length: 4 }, async (_, loop) => {
      while (!continued && sent < most) {
        const i = sent++;
        const result = await handle.executeUpdate(reportEventUpdate, { args: [{ eventId: `s-${i}`, type: 'certificate-requested', occurredOn: addDays(F, i % 290) }] });
        expect(result.applied).toBe(true);
        if (loop === 0) continued = (await firstRun.describe()).status.name === 'CONTINUED_AS_NEW';
      }
    }),
  );
  expect(continued).toBe(true);
  expect(sent).toBeLessThan(most);
  expect(await state(handle)).toMatchObject({ revision: sent + 1, caseRevision: sent + 1, deadlines: sent + 2 });
  const newest = snapshots.filter((s) => s.workflowId === handle.workflowId).at(-1)!;
  expect(newest.revision).toBe(sent + 1);
  expect(newest.runId).not.toBe(firstRunId);
});
