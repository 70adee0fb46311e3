import { type Client, type WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { createOpsService } from '../../api/ops/service';
import { createPolicyService } from '../../api/policy-service';
import { DEFAULT_FANOUT_MAX_IN_FLIGHT } from '../../platform/config';
import { createLogger } from '../../platform/logger';
import { createPolicyRegistry } from '../../policies/registry';
import { addDays, copenhagenDate } from '../../workflows/domain/dates';
import { type PolicyRevision } from '../../workflows/domain/types';
import { caseWorkflowId, type FanoutProgress, type PolicyFanoutInput, POLICY_FANOUT_WORKFLOW_TYPE, policyFanoutWorkflowId, readModelSnapshotQuery } from '../../workflows/messages';
import { openCases as openCasesThroughApi } from '../support/cases';
import { startSystem, type TestSystem } from '../support/system';

/**
 * The fan-out's own history and ops repair's window, against the real dev server, worker and Postgres: a
 * fan-out over more cases than one run's history holds hands over between pages and still applies the revision
 * to each case once; repair applies a revision as a fan-out page does, within the same window and rate.
 */
let system: TestSystem;

beforeAll(async () => {
  system = await startSystem({ taskQueue: 'fanout-history' });
});

afterAll(async () => {
  await system?.stop();
});

const today = () => copenhagenDate(Date.now());

const openCases = (count: number, municipality: string) => openCasesThroughApi({ ...system, client: system.env.client }, { prefix: 'FH', count, municipality });

function pause(policyId: string, municipality: string): PolicyRevision {
  return {
    policyId,
    revision: 1,
    title: 'Delvis suspension',
    effectiveFrom: addDays(today(), -5),
    effectiveTo: null,
    scope: { type: 'municipalities', municipalities: [municipality] },
    effects: [{ type: 'pauseDeadlines', kinds: ['first-conversation', 'follow-up-conversation'] }],
  };
}

/** Stores a revision in the registry with no fan-out owed: only what the test starts reaches the cases. */
async function store(policy: PolicyRevision): Promise<void> {
  const registry = createPolicyRegistry(system.db);
  await system.db.transaction(async (tx) => {
    await registry.lock(tx, policy.policyId);
    await registry.insert(tx, policy);
  });
}

/** Each case's change counter as the case reports it: a revision applied twice would raise it by two. */
const counters = (ids: string[]) => Promise.all(ids.map(async (id) => (await system.env.client.workflow.getHandle(caseWorkflowId(id)).query(readModelSnapshotQuery)).revision));
const plusOne = (before: number[]) => before.map((r) => r + 1);
const recorded = async (policy: PolicyRevision, ids: string[]) =>
  (await system.db.query<{ case_id: string }>(`SELECT case_id FROM case_policies WHERE policy_id = $1 AND revision = $2 AND case_id = ANY($3) ORDER BY case_id`, [policy.policyId, policy.revision, ids])).map((r) => r.case_id);

test('a fan-out over more cases than one run holds hands over between pages: every run stays under the bound, each case applies the revision once, and the progress counts each case once', async () => {
  const ids = await openCases(60, '751');
  const before = await counters(ids);
  const policy = pause('bounded-history', '751');
  await store(policy);

  const input: PolicyFanoutInput = { policy, kind: 'publish', signalsPerSecond: 1_000, pageSize: 3, maxHistoryEvents: 100, visibilityLagMs: 1_000 };
  const handle = await system.env.client.workflow.start(POLICY_FANOUT_WORKFLOW_TYPE, { workflowId: policyFanoutWorkflowId(policy.policyId, policy.revision), taskQueue: system.taskQueue, args: [input] });
  const result = (await handle.result()) as FanoutProgress;

  // Every run of the chain, as the server describes it.
  const lengths: number[] = [];
  for (let runId: string | undefined = handle.firstExecutionRunId; runId; ) {
    const run: WorkflowHandle = system.env.client.workflow.getHandle(handle.workflowId, runId);
    lengths.push((await run.describe()).historyLength);
    const history: temporal.api.history.v1.IHistory = await run.fetchHistory();
    runId = history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  expect(lengths.length).toBeGreaterThanOrEqual(3);
  for (const length of lengths) expect(length).toBeLessThanOrEqual(100);

  expect(await counters(ids)).toEqual(plusOne(before));
  expect(await recorded(policy, ids)).toEqual([...ids].sort());
  expect(result.phase).toBe('done');
  expect(result.missing).toBe(0);
  expect(result.matched + result.lateStarters).toBe(60);
  expect(result.signalled).toBe(60);
  expect(result.failed).toBe(0);
  const [row] = await system.db.query<{ status: string; matched: number; signalled: number }>(`SELECT status, matched, signalled FROM policy_fanouts WHERE workflow_id = $1`, [handle.workflowId]);
  expect(row).toEqual({ status: 'completed', matched: result.matched, signalled: 60 });
});

/**
 * The same client, except that it counts the Updates it has in flight and when each began, and holds each a
 * while before sending it, so the window fills and its bound shows.
 */
function countingClient(client: Client, holdMs: number) {
  const seen = { starts: [] as number[], inFlight: 0, most: 0 };
  const workflow = Object.create(client.workflow, {
    getHandle: {
      value: (...args: Parameters<Client['workflow']['getHandle']>) => {
        const handle = client.workflow.getHandle(...args);
        return Object.create(handle, {
          executeUpdate: {
            value: async (...update: Parameters<WorkflowHandle['executeUpdate']>) => {
              seen.starts.push(Date.now());
              seen.most = Math.max(seen.most, ++seen.inFlight);
              try {
                await new Promise((r) => setTimeout(r, holdMs));
                return await handle.executeUpdate(...update);
              } finally {
                seen.inFlight--;
              }
            },
          },
        });
      },
    },
  });
  return { client: Object.create(client, { workflow: { value: workflow } }) as Client, seen };
}

test('ops repair applies a missing revision within the fan-out window and rate: never more Updates in flight than FANOUT_MAX_IN_FLIGHT, none sooner than the rate allows, each case once', async () => {
  const ids = await openCases(12, '461');
  const before = await counters(ids);
  const policy = pause('repair-window', '461');
  await store(policy);

  const { client, seen } = countingClient(system.env.client, 300);
  const registry = createPolicyRegistry(system.db);
  const temporalSettings = { address: system.address, namespace: 'default', taskQueue: system.taskQueue, uiUrl: 'http://localhost:8233' };
  const policies = createPolicyService({ client, db: system.db, registry, temporal: temporalSettings, logger: createLogger('error'), signalsPerSecond: 20, maxInFlight: 3 });
  expect(policies.fanoutBounds).toEqual({ perSecond: 20, maxInFlight: 3 });
  const round = await createOpsService({ client, db: system.db, registry, policies }).repair();

  expect(round.signalled).toBe(12);
  expect(seen.starts).toHaveLength(12);
  expect(seen.most).toBe(3);
  // 20 a second: one Update every 50 ms at most. The time is taken when the Update is sent, a little after the
  // limiter let it go, and that delay varies on a loaded machine; so compare three starts in a row, which the
  // window alone would let go together: 100 ms apart at the rate, 75 allowing for the delay.
  const spans = seen.starts.slice(2).map((t, i) => t - seen.starts[i]!);
  expect(Math.min(...spans)).toBeGreaterThanOrEqual(75);
  expect(await counters(ids)).toEqual(plusOne(before));
  expect(await recorded(policy, ids)).toEqual([...ids].sort());

  // Without a setting of its own, the API keeps the worker's default window.
  const defaults = createPolicyService({ client, db: system.db, registry, temporal: temporalSettings, logger: createLogger('error'), signalsPerSecond: 2_000 });
  expect(defaults.fanoutBounds).toEqual({ perSecond: 2_000, maxInFlight: DEFAULT_FANOUT_MAX_IN_FLIGHT });
});
