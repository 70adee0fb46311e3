import {
  ApplicationFailure,
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  proxyLocalActivities,
  proxySinks,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { CaseSnapshot, createActivities } from '../activities';
import { timerSummary } from './case-details';
import {
  CASE_LIMITS_ON_SIGNALS,
  CONTINUE_AS_NEW_NOT_A_CHANGE,
  CONTINUE_AS_NEW_UNDER_LOAD,
  CONVERGENCE_ATTRIBUTES,
  DURABLE_READ_MODEL,
  KEEP_TIMER_WHILE_DATE_HOLDS,
  LOCAL_READ_MODEL_WRITE,
  OPEN_IN_ONE_TASK,
  READ_MODEL_SINK,
  SHORTER_RUNS,
} from './case-patches';
import { newestPolicyKeys, publish } from './case-visibility';
import { copenhagenDate, type IsoDate, isIsoDate, startOfCopenhagenDay } from './domain/dates';
import { ruleSetById, ruleSetFor } from './domain/rules';
import { schemas } from './domain/shared-schemas';
import { revisionCovers } from './domain/policy-scope';
import { computeTimeline } from './domain/timeline';
import { type CaseEvent, type PolicyRevision, type Timeline } from './domain/types';
import { type Rejection, rejectEvent } from './domain/validate-event';
import { droppedUnencrypted, refuseUnencryptedMessage, refuseUnencryptedStart } from './unencrypted';
import {
  applyPolicyUpdate,
  applyPolicyWrittenByCallerUpdate,
  CaseErrorType,
  caseEventSignal,
  caseFactsQuery,
  type CaseOutcome,
  type CaseWorkflowInput,
  type MessageResult,
  policyChangeSignal,
  policyKey,
  readModelSnapshotQuery,
  readModelWriteFailedSignal,
  type ReadModelSinks,
  reportEventUpdate,
  timelineQuery,
} from './messages';

/**
 * The read model follows every change through a regular activity, scheduled by the workflow task that made
 * the change: Temporal records it and retries it until Postgres has the snapshot, and a row is never ahead
 * of what Temporal recorded (the activity exists only once the change's task completed). One write is in
 * flight at a time; changes made meanwhile go in the next one (the newest snapshot only). In the worker,
 * concurrent writes of many cases share one statement (activities/index.ts, group commit).
 *
 * Runs begun before that (patch DURABLE_READ_MODEL) wrote through a sink, falling back to the regular
 * activity by readModelWriteFailedSignal, and wrote a run's last snapshot by local activity; that code
 * stays below for their replay.
 */
const { policiesPublishedAfter, registryAfter } = proxyLocalActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});
const { recordCaseSnapshot: recordCaseSnapshotInTask } = proxyLocalActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '5 seconds',
  retry: { maximumAttempts: 1 },
});
const { recordCaseSnapshot } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

const { readModel } = proxySinks<ReadModelSinks>();

/** A run waiting to continue as new whose history passes this many bytes hands over (CONTINUE_AS_NEW_UNDER_LOAD). */
const STARVED_HISTORY_BYTES = 10 * 1024 * 1024;

const REJECTION_TYPES: Record<Rejection['code'], CaseErrorType> = {
  closed: CaseErrorType.CaseClosed,
  rejected: CaseErrorType.EventRejected,
  limit: CaseErrorType.CaseLimitReached,
};

/**
 * Long cases start a new run before their history grows large, carrying state and seen ids. A case the worker
 * no longer holds is replayed from its run's whole history, and the cost of a replay, and the memory a cached
 * run holds, grow faster than its length (docs/benchmarks/2026-12-05-replay-cost.md); a new run costs about
 * one change's work. Runs began before SHORTER_RUNS with the old threshold and keep it, carried from run to run.
 */
const DEFAULT_MAX_HISTORY_EVENTS = 500;
const DEFAULT_MAX_HISTORY_EVENTS_BEFORE = 4_000;

/**
 * One workflow per sickness-benefit case. It holds the case's facts, events and policies, recomputes the
 * timeline (a pure function) after every change, sleeps until the next due date ends in Copenhagen, and
 * keeps the Temporal UI's search attributes and details current for the caseworker.
 */
export async function caseWorkflow(input: CaseWorkflowInput): Promise<CaseOutcome> {
  refuseUnencryptedStart(input);
  const facts = input.facts;
  const maxHistoryEvents = input.maxHistoryEvents ?? (patched(SHORTER_RUNS) ? DEFAULT_MAX_HISTORY_EVENTS : DEFAULT_MAX_HISTORY_EVENTS_BEFORE);
  const ruleSetId = input.ruleSetId ?? ruleSetFor(facts.firstAbsenceDay).id;
  // A correction of the rule set applies from the first workflow task that reaches it (rule-corrections.ts):
  // replaying older tasks, patched() is false and the case computes as it did then. Never from a query.
  const correctedRuleSet = () => ruleSetById(ruleSetId, (c) => patched(c.id));
  let ruleSet = correctedRuleSet();
  const events: CaseEvent[] = [...(input.events ?? [])];
  const policies: PolicyRevision[] = [...(input.policies ?? [])];
  const ignoredPolicies = new Set(input.ignoredPolicyKeys ?? []);
  const seenEvents = new Set(events.map((e) => e.eventId));
  const appliedPolicies = new Set(policies.map(policyKey));

  const today = (): IsoDate => copenhagenDate(Date.now());
  const compute = (): Timeline => computeTimeline(facts, events, policies, ruleSet, today());

  let timeline = compute();
  let changed = false;
  let revision = input.revision ?? 0;
  let written = revision - 1;
  const published = { searchAttributes: '', convergence: false };

  const refresh = (change = true): Timeline => {
    ruleSet = correctedRuleSet();
    timeline = compute();
    if (change) revision++;
    publishTimeline();
    return timeline;
  };
  const publishTimeline = () => publish(timeline, published, patched(CONVERGENCE_ATTRIBUTES) ? { policyKeys: newestPolicyKeys(policies), revision } : null, input.caseworkerPageUrl);

  const rejectPolicy = (candidate: unknown): string | null => {
    const { policyRevisionSchema, issuesMessage } = schemas();
    const parsed = policyRevisionSchema.safeParse(candidate);
    return parsed.success ? null : issuesMessage(parsed.error);
  };

  const acceptEvent = (event: CaseEvent): MessageResult => {
    if (seenEvents.has(event.eventId)) return { applied: false, timeline: compute() };
    seenEvents.add(event.eventId);
    events.push(event);
    changed = true;
    return { applied: true, timeline: refresh() };
  };

  const acceptPolicy = (policy: PolicyRevision): MessageResult => {
    const key = policyKey(policy);
    if (appliedPolicies.has(key) || ignoredPolicies.has(key)) {
      // A run that began before PolicyRevisions was published shows what it holds on the first repeat, so a
      // fan-out's predicate stops listing it (its counter stays: nothing changed).
      if (!published.convergence && patched(CONVERGENCE_ATTRIBUTES)) publishTimeline();
      return { applied: false, timeline: compute() };
    }
    // A revision reaches a case through its scope or its endedFor (policy-scope.ts); one that narrows the
    // policy always names the cases it leaves, so a case holding an earlier revision is always reached.
    if (!revisionCovers(policy, facts.municipality)) {
      ignoredPolicies.add(key);
      return { applied: false, timeline: compute() };
    }
    appliedPolicies.add(key);
    policies.push(policy);
    changed = true;
    return { applied: true, timeline: refresh() };
  };

  // A query runs at the time of the workflow's last activation; the caller may name a later date (today),
  // so that days overdue are counted to then. Earlier dates are not history views and are ignored.
  setHandler(timelineQuery, (asOf?: string) =>
    computeTimeline(facts, events, policies, ruleSet, isIsoDate(asOf) && asOf > today() ? asOf : today()),
  );
  setHandler(caseFactsQuery, () => ({ facts, ruleSetId }));
  // What the read model should hold for the case: ops repair and read-model rebuild write this.
  setHandler(readModelSnapshotQuery, () => ({ workflowId: workflowInfo().workflowId, runId: workflowInfo().runId, revision, timeline }));
  // However an event arrives, past CASE_LIMITS it is refused before anything changes: a rejected update is not
  // written to history, so the case's counter, timeline and read-model row stay as they were.
  setHandler(reportEventUpdate, acceptEvent, {
    validator: (event) => {
      refuseUnencryptedMessage(event);
      if (seenEvents.has(event?.eventId)) return;
      const rejection = rejectEvent(facts, events, policies, ruleSet, event, today());
      if (rejection) {
        throw ApplicationFailure.create({
          message: rejection.reason,
          type: REJECTION_TYPES[rejection.code],
          nonRetryable: true,
          details: rejection.limit ? [rejection.limit] : undefined,
        });
      }
    },
  });
  setHandler(caseEventSignal, (event) => {
    if (droppedUnencrypted(caseEventSignal.name, event)) return;
    // A signal cannot be answered; a rejected one is dropped (the update is the way to learn why). Signals
    // replayed from before the limits were applied as they were then.
    if (seenEvents.has(event?.eventId)) return;
    if (rejectEvent(facts, events, policies, ruleSet, event, today(), { limits: patched(CASE_LIMITS_ON_SIGNALS) }) !== null) return;
    acceptEvent(event);
  });
  const validatePolicyUpdate = (policy: PolicyRevision) => {
    refuseUnencryptedMessage(policy);
    const reason = rejectPolicy(policy);
    if (reason) throw ApplicationFailure.create({ message: reason, type: CaseErrorType.PolicyRejected, nonRetryable: true });
  };
  setHandler(applyPolicyUpdate, acceptPolicy, { validator: validatePolicyUpdate });
  setHandler(policyChangeSignal, (policy) => {
    if (droppedUnencrypted(policyChangeSignal.name, policy)) return;
    if (rejectPolicy(policy) === null) acceptPolicy(policy);
  });

  const needsNewRun = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > maxHistoryEvents;
  /**
   * A run that needed a new one and grew on by as much again, or past a fifth of Temporal's default 50 MB history
   * limit, while waiting for its newest snapshot to be written: its writes are being starved by changes.
   */
  const starved = () => workflowInfo().historyLength > 2 * maxHistoryEvents || workflowInfo().historySize > STARVED_HISTORY_BYTES;
  // The read model follows the newest timeline; writes coalesce and retry without holding up the timers.
  let rewrite = false;
  let writing = false;
  setHandler(readModelWriteFailedSignal, () => {
    rewrite = true;
  });
  // The first task of a case opened in one task writes its first row itself (OPEN_IN_ONE_TASK); the loop waits.
  const openingInTask = input.revision === undefined && input.registryPosition !== undefined && patched(OPEN_IN_ONE_TASK);
  let opening: { revision: number; fence: NonNullable<CaseSnapshot['opening']> } | null = null;
  let openingPending = openingInTask;
  const snapshotNow = (): CaseSnapshot => ({
    workflowId: workflowInfo().workflowId,
    runId: workflowInfo().runId,
    revision,
    timeline,
    ...(opening?.revision === revision ? { opening: opening.fence } : {}),
  });
  const readModelCurrent = () => written === revision && !rewrite && !writing;
  // Set once the run needs a new one (CONTINUE_AS_NEW_UNDER_LOAD): no write starts after that, and the next run writes.
  let handingOver = false;
  // The fan-out's Update (issue #21, design (a)): its caller writes the row from the snapshot answered here, many
  // cases to a statement, so a change that leaves nothing else unwritten schedules no write of its own. The
  // answer reaches the caller only once this task has completed, so the row is never ahead of the history.
  // If the caller dies before writing, the fan-out's read-model pass finds the row without the revision and
  // asks again ("had it", with the snapshot). A change made meanwhile, or a write in flight, still goes by activity.
  setHandler(
    applyPolicyWrittenByCallerUpdate,
    (policy) => {
      const before = written;
      const { applied } = acceptPolicy(policy);
      if (!writing && !rewrite && !handingOver && before === revision - (applied ? 1 : 0)) written = revision;
      return { applied, snapshot: { workflowId: workflowInfo().workflowId, runId: workflowInfo().runId, revision, timeline } };
    },
    { validator: validatePolicyUpdate },
  );
  void (async () => {
    for (;;) {
      await condition(() => (written < revision || rewrite) && !handingOver && !openingPending);
      const snapshot = snapshotNow();
      if (patched(DURABLE_READ_MODEL)) {
        rewrite = false;
        writing = true;
        await recordCaseSnapshot(snapshot);
        written = snapshot.revision;
        writing = false;
        continue;
      }
      const lastOfRun = timeline.status === 'closed' || needsNewRun();
      if (!rewrite && !lastOfRun && patched(READ_MODEL_SINK)) {
        readModel.write(snapshot);
        written = snapshot.revision;
        continue;
      }
      const retry = rewrite;
      rewrite = false;
      writing = true;
      const inTask = !retry && patched(LOCAL_READ_MODEL_WRITE) && (await recordCaseSnapshotInTask(snapshot).then(() => true, () => false));
      if (!inTask) await recordCaseSnapshot(snapshot);
      written = snapshot.revision;
      writing = false;
    }
  })();

  // The counter counts what changed the case: its start, what it was sent and what its timers did. A run
  // continued as new carries the case as it was, so recomputing it there is not a change; a test can then
  // check each case's counter against the changes it was sent, however often it continued as new.
  // A run that replays from before this counts its start as it did then, so its counter stays the one its
  // history and its row were written with.
  refresh(input.revision === undefined || !patched(CONTINUE_AS_NEW_NOT_A_CHANGE));
  // The case inherited the policies of the API's copy of the registry. A publication committed after that
  // copy was read may have listed the open cases before this one was visible: ask the registry once for
  // what was published since, so the case has it whatever the timing (the fan-out finds every case started
  // before that read).
  if (openingInTask) {
    const asked = await registryAfter({ position: input.registryPosition!, municipality: facts.municipality });
    for (const policy of asked.policies) acceptPolicy(policy);
    opening = { revision, fence: { position: asked.position, at: Date.now() } };
    const snapshot = snapshotNow();
    if (await recordCaseSnapshotInTask(snapshot).then(() => true, () => false)) written = snapshot.revision;
    openingPending = false;
  } else if (input.registryPosition !== undefined) {
    const newer = await policiesPublishedAfter({ position: input.registryPosition, municipality: facts.municipality });
    for (const policy of newer) acceptPolicy(policy);
  }
  const keepTimer = patched(KEEP_TIMER_WHILE_DATE_HOLDS);
  for (;;) {
    if (timeline.status === 'closed') break;
    if (needsNewRun()) {
      if (patched(CONTINUE_AS_NEW_UNDER_LOAD)) {
        // As before while the read model catches up; only a run whose writes a stream of changes starves hands
        // over: it starts no more writes, waits for the one in flight, and the next run writes the newest snapshot.
        await condition(() => allHandlersFinished() && (readModelCurrent() || starved()));
        if (!readModelCurrent()) {
          handingOver = true;
          await condition(() => allHandlersFinished() && !writing);
        }
      } else {
        await condition(() => allHandlersFinished() && readModelCurrent());
      }
      await continueAsNew<typeof caseWorkflow>({
        facts,
        ruleSetId,
        events,
        policies,
        ignoredPolicyKeys: [...ignoredPolicies],
        revision,
        maxHistoryEvents,
        caseworkerPageUrl: input.caseworkerPageUrl,
      });
    }
    const wakeOn = timeline.nextChangeOn;
    const summary = wakeOn ? timerSummary(timeline, wakeOn) : null;
    const delay = () => Math.max(1_000, startOfCopenhagenDay(wakeOn!) - Date.now());
    changed = false;
    if (!keepTimer) {
      if (wakeOn) await condition(() => changed, delay(), { summary: summary! });
      else await condition(() => changed);
      if (!changed) refresh();
      continue;
    }
    // One timer per wake-up date: a change that leaves the date (and what is due then) as it was keeps
    // the timer, so the server is not asked to cancel and start a timer for every event and policy.
    let fired = false;
    const timer = new CancellationScope();
    if (wakeOn) void timer.run(() => sleep(delay(), { summary: summary! })).then(() => (fired = true), () => undefined);
    const sameWakeUp = () => timeline.nextChangeOn === wakeOn && (wakeOn === null || timerSummary(timeline, wakeOn) === summary);
    await condition(() => fired || timeline.status === 'closed' || needsNewRun() || !sameWakeUp());
    if (fired) refresh();
    else timer.cancel();
  }

  await condition(() => allHandlersFinished() && readModelCurrent());
  return { caseId: facts.caseId, closedOn: timeline.closedOn, closedReason: timeline.closedReason };
}
