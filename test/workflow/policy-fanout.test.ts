import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { Context } from '@temporalio/activity';
import { type PolicyRevision } from '../../workflows/domain/types';
import { FanoutErrorType, type FanoutProgress, type PolicyFanoutInput, POLICY_FANOUT_WORKFLOW_TYPE } from '../../workflows/messages';
import { startTimeSkippingWorker } from '../support/servers';

/**
 * The policy fan-out on the time-skipping server, its activities replaced by a simulated set of cases: how a
 * run hands over to the next (continue-as-new) between pages and between counts, and how long it waits
 * before each count. Against real cases: test/integration/fanout-history.test.ts.
 */
let env: TestWorkflowEnvironment;
let stop: () => Promise<void>;
const taskQueue = 'policy-fanout-tests';

/** One fan-out's simulated set: pages a source has in each pass, and the counts in turn. */
interface Simulation {
  visibilityPages: number[];
  readModelPages: number[];
  counts: number[];
  /** Every page asked for, `<source>:<cursor>`, in order. */
  pages: string[];
  countsTaken: number;
  pass: number;
}
const simulations = new Map<string, Simulation>();
const simulationOf = () => simulations.get(Context.current().info.workflowExecution!.workflowId)!;

beforeAll(async () => {
  ({ env, stop } = await startTimeSkippingWorker(taskQueue, {
      recordFanoutProgress: async () => undefined,
      async applyMissingCases({ source, from, pageSize }: { source: 'visibility' | 'read-model'; from: string | null; pageSize: number }) {
        const sim = simulationOf();
        sim.pages.push(`${source}:${from ?? 'start'}`);
        if (source === 'visibility' && from === null) sim.pass++;
        const pages = (source === 'visibility' ? sim.visibilityPages : sim.readModelPages)[sim.pass] ?? 0;
        const index = from === null ? 0 : Number(from.slice(from.lastIndexOf('-') + 1));
        const listed = pages === 0 ? 0 : pageSize;
        return { superseded: false, listed, applied: listed, had: 0, failed: 0, unsent: 0, next: index + 1 < pages ? `${source}-${index + 1}` : null };
      },
      async countMissingCases() {
        const sim = simulationOf();
        return { superseded: false, missing: sim.counts[Math.min(sim.countsTaken++, sim.counts.length - 1)]! };
      },
  }));
});

afterAll(async () => {
  await stop?.();
});

const policy: PolicyRevision = {
  policyId: 'bounded',
  revision: 1,
  title: 'Bounded history',
  effectiveFrom: '2020-03-20',
  effectiveTo: null,
  scope: { type: 'all' },
  effects: [{ type: 'pauseDeadlines' }],
};
let fanouts = 0;

/** Runs a fan-out over a simulated set to its end; returns its result, the set, and every run of its chain. */
async function fanOut(sim: Pick<Simulation, 'visibilityPages' | 'readModelPages' | 'counts'>, input: Partial<PolicyFanoutInput>) {
  const workflowId = `policy-fanout-test-${++fanouts}`;
  const simulation: Simulation = { ...sim, pages: [], countsTaken: 0, pass: -1 };
  simulations.set(workflowId, simulation);
  const handle = await env.client.workflow.start(POLICY_FANOUT_WORKFLOW_TYPE, {
    workflowId,
    taskQueue,
    args: [{ policy, kind: 'publish', signalsPerSecond: 100, ...input } satisfies PolicyFanoutInput],
  });
  const result = (await handle.result()) as FanoutProgress;
  return { result, simulation, runs: await runsOf(workflowId, handle.firstExecutionRunId) };
}

/** Each run of a fan-out's chain, following continue-as-new: its history length as the server describes it, and its history. */
async function runsOf(workflowId: string, firstRunId: string) {
  const runs: { historyLength: number; history: temporal.api.history.v1.IHistory }[] = [];
  for (let runId: string | undefined = firstRunId; runId; ) {
    const handle: WorkflowHandle = env.client.workflow.getHandle(workflowId, runId);
    const { historyLength } = await handle.describe();
    const history: temporal.api.history.v1.IHistory = await handle.fetchHistory();
    runs.push({ historyLength, history });
    runId = history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return runs;
}

/** How long each wait before a count was, in seconds, across the whole chain. */
const waits = (runs: Awaited<ReturnType<typeof runsOf>>) =>
  runs.flatMap((r) => (r.history.events ?? []).flatMap((e) => (e.timerStartedEventAttributes ? [Number(e.timerStartedEventAttributes.startToFireTimeout?.seconds ?? 0)] : [])));

test('a pass over many pages hands over between pages: every run stays under the bound, each page is asked for once and in order, and the counts add up', async () => {
  const { result, simulation, runs } = await fanOut({ visibilityPages: [60], readModelPages: [10], counts: [0] }, { pageSize: 5, maxHistoryEvents: 100, visibilityLagMs: 1_000 });

  expect(runs.length).toBeGreaterThanOrEqual(8);
  for (const run of runs) expect(run.historyLength).toBeLessThanOrEqual(100);
  expect(simulation.pages).toEqual([
    'visibility:start',
    ...Array.from({ length: 59 }, (_, i) => `visibility:visibility-${i + 1}`),
    'read-model:start',
    ...Array.from({ length: 9 }, (_, i) => `read-model:read-model-${i + 1}`),
  ]);
  expect(result).toEqual({ passes: 1, matched: 300, signalled: 350, failed: 0, lateStarters: 0, missing: 0, phase: 'done' });
});

test('counts that go on for long hand over between counts: every run stays under the bound, and the back-off goes on where it was', async () => {
  // Four passes whose counts stop falling, then none missing: 13 counts of 17 events each.
  const counts = [5, 5, 5, 4, 4, 4, 3, 3, 3, 2, 2, 2, 0];
  const { result, simulation, runs } = await fanOut({ visibilityPages: [1, 1, 1, 1, 1], readModelPages: [], counts }, { pageSize: 5, maxHistoryEvents: 100, visibilityLagMs: 1_000 });

  expect(runs.length).toBeGreaterThanOrEqual(4);
  for (const run of runs) expect(run.historyLength).toBeLessThanOrEqual(100);
  expect(simulation.countsTaken).toBe(counts.length);
  // The waits double with each pass whose counts did not fall, across the hand-overs.
  expect(waits(runs)).toEqual([1, 1, 1, 2, 2, 2, 4, 4, 4, 8, 8, 8, 16]);
  expect(result).toEqual({ passes: 5, matched: 5, signalled: 25, failed: 0, lateStarters: 20, missing: 0, phase: 'done' });
});

test('a visibility lag above the 60 s the back-off stops at is honoured: no wait before a count is shorter than the lag', async () => {
  const long = await fanOut({ visibilityPages: [1, 1], readModelPages: [], counts: [5, 5, 5, 0] }, { pageSize: 5, visibilityLagMs: 150_000 });
  expect(waits(long.runs)).toEqual([150, 150, 150, 150]);
  expect(long.result.phase).toBe('done');

  // Below it, the back-off still stops at 60 s.
  const short = await fanOut({ visibilityPages: [1, 1], readModelPages: [], counts: [5, 5, 5, 0] }, { pageSize: 5, visibilityLagMs: 40_000 });
  expect(waits(short.runs)).toEqual([40, 40, 40, 60]);
});

test('a fan-out given a history bound it cannot work within fails at once, not retried, naming the field', async () => {
  const workflowId = `policy-fanout-test-${++fanouts}`;
  simulations.set(workflowId, { visibilityPages: [1], readModelPages: [], counts: [0], pages: [], countsTaken: 0, pass: -1 });
  const handle = await env.client.workflow.start(POLICY_FANOUT_WORKFLOW_TYPE, {
    workflowId,
    taskQueue,
    args: [{ policy, kind: 'publish', signalsPerSecond: 100, maxHistoryEvents: 50 } satisfies PolicyFanoutInput],
  });
  const failure = await handle.result().then(
    () => null,
    (err: unknown) => err,
  );
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  const cause = (failure as WorkflowFailedError).cause as ApplicationFailure;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect(cause.type).toBe(FanoutErrorType.InvalidInput);
  expect(cause.nonRetryable).toBe(true);
  expect(cause.message).toBe('refused: maxHistoryEvents must be a whole number of at least 100, not 50');
  expect(simulations.get(workflowId)!.pages).toEqual([]);
});
