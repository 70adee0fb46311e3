import { type WorkflowHandle } from '@temporalio/client';
import { type temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { addDays, copenhagenDate } from '../../workflows/domain/dates';
import { type CaseEvent } from '../../workflows/domain/types';
import { caseWorkflowId, reportEventUpdate, timelineQuery } from '../../workflows/messages';
import { bundleCaseWorkflows, startTimeSkipping, toNextCopenhagenNoon } from '../support/servers';
import { bundleReleaseWithCorrection } from './fixtures/release-with-correction';

/**
 * A deploy of a changed engine while cases run (README, Safe deploys): release A runs cases; release B adds
 * a rule correction (rule-corrections.ts, here the fixture next to this file) and replaces A's worker. No
 * case fails a workflow task on replay, each running case takes the corrected rule at its next change and
 * not before, a case started after the deploy has it from its start, and A's histories still replay on B
 * (while B's no longer replay on A: a correction is rolled forward, never back).
 */
let env: TestWorkflowEnvironment;
const taskQueue = 'deploy';
const activities = {
  recordCaseSnapshot: async () => undefined,
  policiesPublishedAfter: async () => [],
  registryAfter: async ({ position }: { position: number }) => ({ position, policies: [] }),
};

beforeAll(async () => {
  env = await startTimeSkipping();
});

// From a Copenhagen noon, a whole day's sleep never crosses midnight.
beforeEach(async () => {
  await toNextCopenhagenNoon(env);
});

afterAll(async () => {
  await env?.teardown();
});

/**
 * A release's worker for the duration of `body`. No workflow cache: a cached case's next task would go to its
 * worker's own (sticky) queue, and the time-skipping server, its clock stopped between steps, never lets that
 * queue time out to the shared one after the worker is gone (a real server does within 5 s).
 */
async function run<T>(workflowBundle: { code: string }, body: () => Promise<T>): Promise<T> {
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities, maxCachedWorkflows: 0 });
  return worker.runUntil(body);
}

const firstConversation = async (h: WorkflowHandle) => (await h.query(timelineQuery)).deadlines.find((d) => d.kind === 'first-conversation')!;

test('a rule correction deployed while cases run reaches each case at its next change, without a replay failure', async () => {
  const F = copenhagenDate(await env.currentTimeMs());
  const start = async (name: string) => {
    const caseId = `DEPLOY-${name}-${Date.now().toString(36)}`;
    return env.client.workflow.start('caseWorkflow', {
      workflowId: caseWorkflowId(caseId),
      taskQueue,
      args: [{ facts: { caseId, citizenRef: `REF-${name}`, municipality: '101', firstAbsenceDay: F, employment: 'employee' } }],
    });
  };
  const report = async (h: WorkflowHandle, e: Record<string, unknown>) =>
    h.executeUpdate(reportEventUpdate, { args: [{ eventId: `${h.workflowId}-${String(e.type)}`, occurredOn: copenhagenDate(await env.currentTimeMs()), ...e } as CaseEvent] });

  const bundleA = await bundleCaseWorkflows();
  const [a, b] = await run(bundleA, async () => {
    const running = [await start('A'), await start('B')];
    for (const h of running) await report(h, { type: 'categorized', category: 2 });
    await env.sleep('10 days');
    for (const h of running) expect((await firstConversation(h)).dueDate).toBe(addDays(F, 55));
    return running;
  });

  const bundleB = await bundleReleaseWithCorrection();
  await run(bundleB, async () => {
    // B replays A's tasks with A's rule set: before its next change a case still shows week 8.
    expect((await firstConversation(a!)).dueDate).toBe(addDays(F, 55));
    await report(a!, { type: 'certificate-requested' });
    expect((await firstConversation(a!)).dueDate).toBe(addDays(F, 48));
    expect((await firstConversation(b!)).dueDate).toBe(addDays(F, 55));
    // A timer that fires is a change too: B, untouched since, takes the correction when its next timer fires
    // (the end of the old due day, F + 55), and then reads the deadline as missed a week before.
    await env.sleep('40 days');
    expect((await firstConversation(b!)).dueDate).toBe(addDays(F, 55));
    await env.sleep('7 days');
    expect((await firstConversation(b!)).dueDate).toBe(addDays(F, 48));
    expect((await firstConversation(b!)).status).toBe('missed');
    // A case started after the deploy (here one the case system imports with the same first day) has it from its start.
    const later = await start('C');
    expect((await firstConversation(later)).originalDueDate).toBe(addDays(F, 48));
  });

  for (const h of [a!, b!]) {
    const history = await h.fetchHistory();
    const failed = history.events!.filter((e) => e.workflowTaskFailedEventAttributes);
    expect(failed.map((e) => e.workflowTaskFailedEventAttributes!.failure?.message)).toEqual([]);
    const markers = history.events!.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch');
    const patches = markers.map((e) => Buffer.from(e.markerRecordedEventAttributes!.details!['patch-data']!.payloads![0]!.data!).toString());
    expect(patches.filter((p) => p.includes('deploy-test-first-conversation-week-7'))).toHaveLength(1);
    // B replays the whole history. A (B rolled back) does not: it would compute week 8 again where B
    // recorded week 7; a correction, once deployed, stays (roll forward instead).
    await Worker.runReplayHistory({ workflowBundle: bundleB }, history as temporal.api.history.v1.IHistory, h.workflowId);
    await expect(Worker.runReplayHistory({ workflowBundle: bundleA }, history as temporal.api.history.v1.IHistory, h.workflowId)).rejects.toMatchObject({ name: 'DeterminismViolationError', message: expect.stringContaining('nondeterminism') });
  }
});
