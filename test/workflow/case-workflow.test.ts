import { type WorkflowHandle, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { Context } from '@temporalio/activity';
import { type CaseSnapshot } from '../../activities';
import { type caseWorkflow } from '../../workflows';
import { addDays, copenhagenDate, endOfMonth } from '../../workflows/domain/dates';
import { ruleSetFor } from '../../workflows/domain/rules';
import { computeTimeline } from '../../workflows/domain/timeline';
import { type CaseEvent, type CaseFacts, type Deadline, type PolicyRevision, type Timeline } from '../../workflows/domain/types';
import {
  applyPolicyUpdate,
  CaseErrorType,
  caseEventSignal,
  caseWorkflowId,
  type CaseWorkflowInput,
  readModelSnapshotQuery,
  reportEventUpdate,
  timelineQuery,
} from '../../workflows/messages';
import { CaseRevisionKey, PolicyRevisionsKey } from '../../workflows/search-attributes';
import { eventually } from '../../dev/eventually';
import { startTimeSkippingWorker, toNextCopenhagenNoon } from '../support/servers';

/**
 * Whole timelines on the time-skipping test server: weeks pass in milliseconds, timers fire, deadlines are
 * missed, and the workflow recomputes after every event. Activities are replaced by a recorder.
 */
let env: TestWorkflowEnvironment;
let stop: () => Promise<void>;
/** Every snapshot the read-model activity wrote, with the attempt that wrote it. */
const snapshots: (CaseSnapshot & { attempt: number })[] = [];
/** Cases whose snapshot writes fail this many more times, as while Postgres is down. */
const failingWrites = new Map<string, number>();
/** What the registry answers a case that asks for what was published after its copy. */
const publishedAfter = new Map<string, PolicyRevision[]>();
const taskQueue = 'case-workflow-tests';
let caseNumber = 0;

beforeAll(async () => {
  ({ env, stop } = await startTimeSkippingWorker(taskQueue, {
      async recordCaseSnapshot(snapshot: CaseSnapshot) {
        const failures = failingWrites.get(snapshot.workflowId) ?? 0;
        if (failures > 0) {
          failingWrites.set(snapshot.workflowId, failures - 1);
          throw new Error('connection refused');
        }
        snapshots.push({ ...snapshot, attempt: Context.current().info.attempt });
      },
      async policiesPublishedAfter({ municipality }: { position: number; municipality: string }) {
        return publishedAfter.get(municipality) ?? [];
      },
      async registryAfter({ position, municipality }: { position: number; municipality: string }) {
        const policies = publishedAfter.get(municipality) ?? [];
        return { position: position + policies.length, policies };
      },
  }));
});

// The time-skipping clock starts at the wall clock and runs on with it, and a test that awaits a result
// lets it skip to other cases' midnight timers. Each test starts at a Copenhagen noon, so whole-day sleeps
// keep the dates the tests compute.
beforeEach(async () => {
  await toNextCopenhagenNoon(env);
});

afterAll(async () => {
  await stop?.();
});

const today = async () => copenhagenDate(await env.currentTimeMs());
const byId = (t: Timeline, id: string): Deadline => {
  const found = t.deadlines.find((d) => d.id === id);
  if (!found) throw new Error(`no deadline ${id}; have ${t.deadlines.map((d) => `${d.id}:${d.status}`).join(', ')}`);
  return found;
};

async function openCase(overrides: Partial<CaseFacts> = {}, options: Partial<CaseWorkflowInput> = {}) {
  const facts: CaseFacts = {
    caseId: `WF-${++caseNumber}`,
    citizenRef: `REF-${caseNumber}`,
    municipality: '101',
    firstAbsenceDay: await today(),
    employment: 'employee',
    ...overrides,
  };
  await env.client.workflow.start<typeof caseWorkflow>('caseWorkflow', {
    workflowId: caseWorkflowId(facts.caseId),
    taskQueue,
    args: [{ facts, ...options }],
  });
  // Not bound to the first run: the case may continue as new.
  const handle = env.client.workflow.getHandle<typeof caseWorkflow>(caseWorkflowId(facts.caseId));
  return { handle, facts, F: facts.firstAbsenceDay };
}

let eventNumber = 0;
type NewEvent = CaseEvent extends infer E ? (E extends unknown ? Omit<E, 'eventId' | 'occurredOn'> & { occurredOn?: string; eventId?: string } : never) : never;

async function report(handle: WorkflowHandle<typeof caseWorkflow>, e: NewEvent) {
  const event = { ...e, eventId: e.eventId ?? `e-${++eventNumber}`, occurredOn: e.occurredOn ?? (await today()) } as CaseEvent;
  return handle.executeUpdate(reportEventUpdate, { args: [event] });
}

async function rejection(promise: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (err as WorkflowUpdateFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    return cause as ApplicationFailure;
  }
  throw new Error('expected the update to be rejected');
}

const timelineOf = async (handle: WorkflowHandle<typeof caseWorkflow>) => handle.query(timelineQuery, await today());

test('category 2 over 52 weeks: conversations every 4 weeks, a missed one, an extension and recovery', async () => {
  const { handle, F } = await openCase();
  let t = await timelineOf(handle);
  expect(byId(t, 'first-conversation')).toMatchObject({ dueDate: addDays(F, 55), status: 'pending', mode: 'in-person' });
  const reviewPoint = endOfMonth(addDays(F, 30 + 154));
  expect(byId(t, 'reassessment-1')).toMatchObject({ dueDate: reviewPoint, status: 'pending' });

  await env.sleep('40 days');
  await report(handle, { type: 'categorized', category: 2 });
  await env.sleep('10 days');
  t = (await report(handle, { type: 'conversation-held', mode: 'in-person' })).timeline;
  expect(byId(t, 'first-conversation')).toMatchObject({ status: 'met', metOn: addDays(F, 50), daysLate: 0 });
  expect(byId(t, 'follow-up-conversation-1')).toMatchObject({ dueDate: addDays(F, 78), status: 'pending' });

  // Nobody holds the next conversation: the timer marks it missed the day after.
  await env.sleep('30 days');
  t = await timelineOf(handle);
  expect(byId(t, 'follow-up-conversation-1')).toMatchObject({ status: 'missed', daysLate: 2 });

  t = (await report(handle, { type: 'conversation-held', mode: 'in-person' })).timeline;
  expect(byId(t, 'follow-up-conversation-1')).toMatchObject({ status: 'met', metOn: addDays(F, 80), daysLate: 2 });
  expect(byId(t, 'follow-up-conversation-2').dueDate).toBe(addDays(F, 108));

  for (let k = 2; k <= 4; k++) {
    await env.sleep('28 days');
    t = (await report(handle, { type: 'conversation-held', mode: 'in-person' })).timeline;
    expect(byId(t, `follow-up-conversation-${k}`)).toMatchObject({ status: 'met', daysLate: 0 });
  }
  expect(t!.deadlines.filter((d) => d.status === 'missed')).toEqual([]);

  // Reassessment before the review point: extension under § 27, stk. 1, nr. 3 for 20 weeks.
  const now = await today();
  await env.sleep(`${Math.max(1, daysBetweenDates(now, reviewPoint) - 3)} days`);
  const until = addDays(reviewPoint, 140);
  t = (await report(handle, { type: 'reassessment-decided', outcome: 'extension', ground: '3', until })).timeline;
  expect(byId(t, 'reassessment-1')).toMatchObject({ status: 'met', daysLate: 0 });
  expect(byId(t, 'reassessment-2')).toMatchObject({ dueDate: until, status: 'pending' });
  expect(t.extension).toEqual({ ground: '3', until });

  await env.sleep(`${Math.max(1, 364 - daysBetweenDates(F, await today()))} days`);
  const recoveredOn = await today();
  const result = await report(handle, { type: 'recovered' });
  expect(result.timeline).toMatchObject({ status: 'closed', closedReason: 'recovered', closedOn: recoveredOn });
  expect(await handle.result()).toEqual({ caseId: result.timeline.caseId, closedOn: recoveredOn, closedReason: 'recovered' });

  const mine = snapshots.filter((s) => s.workflowId === handle.workflowId);
  expect(mine.length).toBeGreaterThan(5);
  expect(mine.map((s) => s.revision)).toEqual([...mine.map((s) => s.revision)].sort((a, b) => a - b));
  expect(mine[mine.length - 1]).toMatchObject({ timeline: { status: 'closed' } });
  // Each write went through a recorded activity, scheduled by the task that made the change.
  const { EVENT_TYPE_ACTIVITY_TASK_COMPLETED, EVENT_TYPE_MARKER_RECORDED } = temporal.api.enums.v1.EventType;
  const events = (await handle.fetchHistory()).events ?? [];
  expect(events.filter((e) => e.eventType === EVENT_TYPE_ACTIVITY_TASK_COMPLETED)).toHaveLength(mine.length);
  // No local activity (the sink era's last write) and no sink: every marker is a patch marker.
  expect(new Set(events.filter((e) => e.eventType === EVENT_TYPE_MARKER_RECORDED).map((e) => e.markerRecordedEventAttributes!.markerName))).toEqual(new Set(['core_patch']));
});

test('category 3 over 52 weeks: rehabilitation team within 28 days, then job clarification ends the case', async () => {
  const { handle, F } = await openCase({ employment: 'unemployed' });
  await env.sleep('10 days');
  let t = (await report(handle, { type: 'categorized', category: 3 })).timeline;
  expect(byId(t, 'rehabilitation-team-1')).toMatchObject({ dueDate: addDays(F, 38), status: 'pending' });

  await env.sleep('30 days');
  t = await timelineOf(handle);
  expect(byId(t, 'rehabilitation-team-1')).toMatchObject({ status: 'missed', daysLate: 2 });
  t = (await report(handle, { type: 'rehabilitation-team-held' })).timeline;
  expect(byId(t, 'rehabilitation-team-1')).toMatchObject({ status: 'met', daysLate: 2 });

  await env.sleep('10 days');
  t = (await report(handle, { type: 'conversation-held', mode: 'video' })).timeline;
  expect(byId(t, 'first-conversation')).toMatchObject({ status: 'met', mode: 'video' });
  expect(byId(t, 'follow-up-conversation-1').dueDate).toBe(addDays(F, 78));

  // Unemployed: no employer period, so benefit day 155 is F + 154.
  const reviewPoint = endOfMonth(addDays(F, 154));
  expect(t.reviewPoint).toBe(reviewPoint);
  await env.sleep(`${daysBetweenDates(await today(), reviewPoint) + 5} days`);
  t = await timelineOf(handle);
  expect(byId(t, 'reassessment-1').status).toBe('missed');

  t = (await report(handle, { type: 'reassessment-decided', outcome: 'job-clarification' })).timeline;
  expect(t.status).toBe('job-clarification');
  const decided = await today();
  expect(byId(t, 'job-clarification-rehabilitation-team')).toMatchObject({ dueDate: addDays(decided, 28), status: 'pending' });
  expect(t!.deadlines.filter((d) => d.status === 'pending').map((d) => d.id)).toEqual(['job-clarification-rehabilitation-team']);

  const other = await rejection(report(handle, { type: 'conversation-held', mode: 'phone' }));
  expect(other.type).toBe(CaseErrorType.EventRejected);
  expect(other.message).toContain('job clarification');

  await env.sleep('20 days');
  await report(handle, { type: 'rehabilitation-team-held' });
  expect(await handle.result()).toMatchObject({ closedReason: 'job-clarification', closedOn: addDays(decided, 20) });
});

test('category 1 gets no later conversations; recovery ends the workflow', async () => {
  const { handle, F } = await openCase();
  await env.sleep('5 days');
  await report(handle, { type: 'information-form-received' });
  await report(handle, { type: 'categorized', category: 1 });
  await env.sleep('45 days');
  const t = (await report(handle, { type: 'conversation-held', mode: 'in-person' })).timeline;
  expect(byId(t, 'first-conversation').status).toBe('met');
  expect(t!.deadlines.filter((d) => d.kind === 'follow-up-conversation')).toEqual([]);
  await env.sleep('10 days');
  await report(handle, { type: 'recovered' });
  expect(await handle.result()).toEqual({ caseId: t.caseId, closedOn: addDays(F, 60), closedReason: 'recovered' });
});

test('a suspension in the middle pauses the first conversation; lifting it gives the date back, 60 days later', async () => {
  const { handle, F } = await openCase();
  await env.sleep('20 days');
  const suspension: PolicyRevision = {
    policyId: 'suspension',
    revision: 1,
    title: 'Delvis suspension af beskæftigelsesindsatsen',
    effectiveFrom: addDays(F, 20),
    effectiveTo: null,
    scope: { type: 'all' },
    effects: [{ type: 'pauseDeadlines', kinds: ['first-conversation', 'follow-up-conversation'] }],
  };
  let result = await handle.executeUpdate(applyPolicyUpdate, { args: [suspension] });
  expect(result.applied).toBe(true);
  expect(byId(result.timeline, 'first-conversation')).toMatchObject({ dueDate: null, status: 'paused', originalDueDate: addDays(F, 55) });

  // Far past the original date: still paused, not missed.
  await env.sleep('60 days');
  let t = await timelineOf(handle);
  expect(byId(t, 'first-conversation')).toMatchObject({ dueDate: null, status: 'paused' });

  const lifted = { ...suspension, revision: 2, effectiveTo: addDays(F, 79) };
  result = await handle.executeUpdate(applyPolicyUpdate, { args: [lifted] });
  expect(byId(result.timeline, 'first-conversation')).toMatchObject({ dueDate: addDays(F, 115), status: 'pending' });
  expect(result.timeline.policies.map((p) => [p.revision, p.state])).toEqual([
    [2, 'ended'],
    [1, 'superseded'],
  ]);

  // The same revision again changes nothing.
  const again = await handle.executeUpdate(applyPolicyUpdate, { args: [lifted] });
  expect(again.applied).toBe(false);
  expect(again.timeline.deadlines).toEqual(result.timeline.deadlines);

  await env.sleep('36 days');
  t = await timelineOf(handle);
  expect(byId(t, 'first-conversation')).toMatchObject({ status: 'missed', daysLate: 1 });
});

test('a running case imported with backdated events shows what was met and what is overdue', async () => {
  const now = await today();
  const F = addDays(now, -300);
  const { handle } = await openCase({ firstAbsenceDay: F, informationFormSentOn: addDays(F, 2) });
  for (const e of [
    { type: 'information-form-received', occurredOn: addDays(F, 7) },
    { type: 'categorized', occurredOn: addDays(F, 12), category: 2 },
    { type: 'conversation-held', occurredOn: addDays(F, 50), mode: 'in-person' },
    { type: 'conversation-held', occurredOn: addDays(F, 78), mode: 'in-person' },
    { type: 'conversation-held', occurredOn: addDays(F, 110), mode: 'phone' },
  ] as NewEvent[]) {
    await report(handle, e);
  }
  const t = await timelineOf(handle);
  expect(byId(t, 'information-form')).toMatchObject({ dueDate: addDays(F, 10), status: 'met', metOn: addDays(F, 7) });
  expect(byId(t, 'first-conversation')).toMatchObject({ status: 'met', daysLate: 0 });
  expect(byId(t, 'follow-up-conversation-1')).toMatchObject({ status: 'met', daysLate: 0 });
  expect(byId(t, 'follow-up-conversation-2')).toMatchObject({ status: 'met', daysLate: 4, mode: 'phone' });
  expect(byId(t, 'follow-up-conversation-3')).toMatchObject({ dueDate: addDays(F, 138), status: 'missed', daysLate: 162 });
  expect(byId(t, 'reassessment-1')).toMatchObject({ dueDate: endOfMonth(addDays(F, 184)), status: 'missed' });
});

test('repeated events change nothing; bad events are refused with a reason and change nothing', async () => {
  const { handle, F } = await openCase();
  await env.sleep('3 days');
  const first = await report(handle, { eventId: 'same', type: 'certificate-requested' });
  const repeat = await report(handle, { eventId: 'same', type: 'certificate-requested' });
  expect(first.applied).toBe(true);
  expect(repeat.applied).toBe(false);
  expect(repeat.timeline.deadlines).toEqual(first.timeline.deadlines);

  const future = await rejection(report(handle, { type: 'recovered', occurredOn: addDays(F, 30) }));
  expect(future).toMatchObject({ type: CaseErrorType.EventRejected });
  expect(future.message).toBe(`occurredOn ${addDays(F, 30)} is in the future (today is ${addDays(F, 3)} in Copenhagen)`);
  const early = await rejection(report(handle, { type: 'certificate-received', occurredOn: addDays(F, -1) }));
  expect(early.message).toBe(`occurredOn ${addDays(F, -1)} is before the first day of absence ${F}`);
  const shape = await rejection(report(handle, { type: 'categorized', category: 7 } as unknown as NewEvent));
  expect(shape.message).toBe('category: must be 1, 2 or 3');
  expect((await timelineOf(handle)).deadlines).toEqual(first.timeline.deadlines);

  // A signal is the fire-and-forget path for the same events.
  await handle.signal(caseEventSignal, { eventId: 'by-signal', type: 'certificate-received', occurredOn: addDays(F, 3) });
  expect(byId(await timelineOf(handle), 'certificate-1')).toMatchObject({ status: 'met', metOn: addDays(F, 3) });

  await report(handle, { type: 'benefit-stopped' });
  await handle.result();
});

test('a change that leaves the wake-up date keeps the timer; a change that moves it replaces the timer', async () => {
  const { handle, F } = await openCase();
  const { EVENT_TYPE_TIMER_STARTED, EVENT_TYPE_TIMER_CANCELED } = temporal.api.enums.v1.EventType;
  const timers = async () => {
    const types = ((await handle.fetchHistory()).events ?? []).map((e) => e.eventType);
    return { started: types.filter((t) => t === EVENT_TYPE_TIMER_STARTED).length, canceled: types.filter((t) => t === EVENT_TYPE_TIMER_CANCELED).length };
  };
  // The first conversation is due at the end of week 8: the case wakes the day after.
  expect((await timelineOf(handle)).nextChangeOn).toBe(addDays(F, 56));
  expect(await timers()).toEqual({ started: 1, canceled: 0 });

  // Visitation changes the case but not when it next changes: the server is not asked for a new timer.
  await report(handle, { type: 'categorized', category: 2 });
  expect((await timelineOf(handle)).nextChangeOn).toBe(addDays(F, 56));
  expect(await timers()).toEqual({ started: 1, canceled: 0 });

  // A requested certificate is due in 14 days: the case must wake earlier, so the timer is replaced.
  await report(handle, { type: 'certificate-requested' });
  expect((await timelineOf(handle)).nextChangeOn).toBe(addDays(F, 15));
  expect(await timers()).toEqual({ started: 2, canceled: 1 });
});

test('a long case continues as new and keeps its events, policies and seen ids', async () => {
  const { handle, F } = await openCase({}, { maxHistoryEvents: 40 });
  const firstRun = (await handle.describe()).runId;
  const opened = (await handle.query(readModelSnapshotQuery)).revision;
  await env.sleep('2 days');
  const slept = (await handle.query(readModelSnapshotQuery)).revision;
  let t: Timeline | undefined;
  for (let i = 1; i <= 12; i++) t = (await report(handle, { eventId: `cert-${i}`, type: i % 2 ? 'certificate-requested' : 'certificate-received' })).timeline;
  // A run continues as new after the update that took it past the threshold has been answered. The
  // time-skipping server loses a query that reaches a run as it continues as new (the query then waits for
  // its deadline), so ask only once the newest run is below the threshold and has nothing to hand over.
  const newest = await eventually(
    () => handle.describe(),
    (d) => d.status.name === 'RUNNING' && Number(d.historyLength) <= 40,
    'the newest run below its threshold',
  );
  expect(newest.runId).not.toBe(firstRun);
  expect((await env.client.workflow.getHandle(handle.workflowId, firstRun).describe()).status.name).toBe('CONTINUED_AS_NEW');
  // The change counter counts the twelve events once each; continuing as new is not a change.
  expect(slept).toBeGreaterThanOrEqual(opened);
  expect((await handle.query(readModelSnapshotQuery)).revision).toBe(slept + 12);
  expect(t!.deadlines.filter((d) => d.kind === 'certificate').map((d) => d.status)).toEqual(Array(6).fill('met'));
  const repeat = await report(handle, { eventId: 'cert-1', type: 'certificate-requested' });
  expect(repeat.applied).toBe(false);
  expect(byId(repeat.timeline, 'first-conversation').dueDate).toBe(addDays(F, 55));
  await report(handle, { type: 'recovered' });
  await handle.result();
});

test('a snapshot write that fails is retried by Temporal until it lands, and the newest change reaches the read model', async () => {
  const { handle } = await openCase();
  await env.sleep('3 days');
  failingWrites.set(handle.workflowId, 2);
  const t = (await report(handle, { type: 'categorized', category: 2 })).timeline;
  const written = async () => snapshots.filter((s) => s.workflowId === handle.workflowId);
  for (let tries = 0; tries < 100 && !(await written()).some((s) => s.timeline.category === 2); tries++) await new Promise((r) => setTimeout(r, 100));
  const last = (await written()).at(-1)!;
  // The third attempt wrote it: two failures, each retried by Temporal.
  expect(last).toMatchObject({ attempt: 3, revision: (await handle.query(readModelSnapshotQuery)).revision });
  expect(last.timeline).toEqual(t);
  await report(handle, { type: 'recovered' });
  await handle.result();
});

test('a case started from an older copy of the registry asks for what was published since, and applies it once', async () => {
  const later: PolicyRevision = {
    policyId: 'late-pause',
    revision: 1,
    title: 'Suspension published after the copy',
    effectiveFrom: await today(),
    effectiveTo: null,
    scope: { type: 'municipalities', municipalities: ['851'] },
    effects: [{ type: 'pauseDeadlines', kinds: ['first-conversation'] }],
  };
  publishedAfter.set('851', [later]);
  const { handle } = await openCase({ municipality: '851' }, { registryPosition: 7 });
  for (let tries = 0; tries < 50 && (await timelineOf(handle)).policies.length === 0; tries++) await new Promise((r) => setTimeout(r, 100));
  const t = await timelineOf(handle);
  expect(t.policies.map((p) => `${p.policyId}#${p.revision}`)).toEqual(['late-pause#1']);
  expect(byId(t, 'first-conversation')).toMatchObject({ status: 'paused', dueDate: null });
  // What the fan-out and verify ask visibility: the case carries the revision it applied, and its counter.
  const { typedSearchAttributes } = await handle.describe();
  expect(typedSearchAttributes.get(PolicyRevisionsKey)).toEqual(['late-pause#1']);
  expect(typedSearchAttributes.get(CaseRevisionKey)).toBe((await handle.query(readModelSnapshotQuery)).revision);
  // The fan-out reaching it too changes nothing.
  expect((await handle.executeUpdate(applyPolicyUpdate, { args: [later] })).applied).toBe(false);
  await report(handle, { type: 'recovered' });
  await handle.result();
});

test('a revision that narrows the scope ends the policy for the cases it leaves on its endedFor date, as the what-if engine says', async () => {
  const F = await today();
  const rev1: PolicyRevision = {
    policyId: `narrowed-${caseNumber}`,
    revision: 1,
    title: 'Suspension in Hovedstaden and Midtjylland',
    effectiveFrom: addDays(F, 10),
    effectiveTo: null,
    scope: { type: 'regions', regions: ['Hovedstaden', 'Midtjylland'] },
    effects: [{ type: 'pauseDeadlines', kinds: ['first-conversation'] }],
  };
  const rev2: PolicyRevision = {
    ...rev1,
    revision: 2,
    title: 'Suspension in Hovedstaden only',
    scope: { type: 'regions', regions: ['Hovedstaden'] },
    endedFor: [{ scope: { type: 'regions', regions: ['Midtjylland'] }, effectiveTo: addDays(F, 29) }],
  };
  const aarhus = await openCase({ municipality: '751' }); // Midtjylland
  const copenhagen = await openCase({ municipality: '101' }); // Hovedstaden
  await env.sleep('12 days');
  for (const c of [aarhus, copenhagen]) await c.handle.executeUpdate(applyPolicyUpdate, { args: [rev1] });
  expect(byId(await timelineOf(aarhus.handle), 'first-conversation').status).toBe('paused');
  for (const c of [aarhus, copenhagen]) expect((await c.handle.executeUpdate(applyPolicyUpdate, { args: [rev2] })).applied).toBe(true);

  const asOf = await today();
  const inAarhus = await aarhus.handle.query(timelineQuery, asOf);
  // Paused from day 10 to day 29 (20 days): still in the pause today, but with a due date again, 20 days
  // after the end of week 8. In Copenhagen the pause has no end, so neither has the deadline.
  expect(byId(inAarhus, 'first-conversation')).toMatchObject({ status: 'paused', dueDate: addDays(F, 55 + 20) });
  expect(inAarhus.policies.find((p) => p.revision === 2)).toMatchObject({ effectiveTo: addDays(F, 29), state: 'active' });
  expect(byId(await copenhagen.handle.query(timelineQuery, asOf), 'first-conversation')).toMatchObject({ status: 'paused', dueDate: null });
  // The workflows and POST /api/v1/timeline/simulate (the same engine) agree on the same revisions.
  for (const c of [aarhus, copenhagen]) {
    expect(await c.handle.query(timelineQuery, asOf)).toEqual(computeTimeline(c.facts, [], [rev1, rev2], ruleSetFor(c.facts.firstAbsenceDay), asOf));
  }
});

function daysBetweenDates(from: string, to: string): number {
  return Math.round((Date.parse(to) - Date.parse(from)) / 86_400_000);
}
