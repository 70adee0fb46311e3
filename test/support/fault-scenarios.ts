import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import type Long from 'long';
import { type QueryDefinition } from '@temporalio/common';
import { canonicalJson } from '../../workflows/domain/fingerprint';
import { addDays, copenhagenDate } from '../../workflows/domain/dates';
import { type PolicyRevision } from '../../workflows/domain/types';
import { createPolicyRegistry } from '../../policies/registry';
import { applyPolicyUpdate, caseWorkflowId, policyFanoutWorkflowId, readModelSnapshotQuery, reportEventUpdate, timelineQuery } from '../../workflows/messages';
import { CaseIdKey, caseStartSearchAttributes, MunicipalityKey } from '../../workflows/search-attributes';
import { type ProcessSystem } from './processes';
import { eventually } from '../../dev/eventually';
import { openCases as openCasesThroughApi, settledCases } from './cases';

/**
 * The fault-injection scenarios, run against both topologies (test/integration/faults.test.ts on the dev
 * server, test/integration/cluster.test.ts on the Temporal cluster): the worker, Temporal and the API killed
 * (SIGKILL), Postgres stopped, cases closing or continuing as new under the fan-out, a revision that narrows
 * the scope. Each scenario ends with `npm run ops -- verify` (the CLI, through the API) reporting nothing
 * missing and nothing stale, and every case having applied the revision once: each case's own change counter
 * (CaseRevision, which every application of a revision raises) rose by exactly one, or by exactly the number
 * of changes the scenario sent it. `sys` gives the system the suite started in its beforeAll. On the cluster,
 * "the worker" and "the API" are every worker and API instance.
 */
/** What the scenarios share, for other suites too (cluster.test.ts). */
export function faultHelpers(sys: () => ProcessSystem) {
  const today = () => copenhagenDate(Date.now());

  /** Opens `count` cases in `municipality`, first absent three days ago, and waits until they have settled. */
  const openCases = (prefix: string, municipality: string, count: number) => openCasesThroughApi(sys(), { prefix, municipality, count, daysAgo: 3 });

  /** Each case has finished its first task (its first snapshot is written) and visibility lists it. */
  const firstTasksDone = (ids: string[]) => settledCases(sys(), ids);

  function pause(policyId: string, municipalities: string[], overrides: Partial<PolicyRevision> = {}): PolicyRevision {
    return {
      policyId,
      revision: 1,
      title: 'Suspension',
      effectiveFrom: addDays(today(), -1),
      effectiveTo: null,
      scope: { type: 'municipalities', municipalities },
      effects: [{ type: 'pauseDeadlines', kinds: ['first-conversation'] }],
      ...overrides,
    };
  }

  const appliedCount = async (policyId: string, revision: number, caseIds?: string[]) =>
    Number(
      (
        await sys().db.query<{ n: string }>(
          `SELECT count(*) AS n FROM case_policies WHERE policy_id = $1 AND revision = $2 ${caseIds ? 'AND case_id = ANY($3)' : ''}`,
          caseIds ? [policyId, revision, caseIds] : [policyId, revision],
        )
      )[0]!.n,
    );

  /** Each case's change counter, as the case itself reports it. */
  /**
   * A query to a case, asked again while Temporal answers that no worker has polled its task queue lately
   * (gRPC FAILED_PRECONDITION): a worker a scenario has just started may still be loading its workflows.
   */
  async function queryCase<T, A extends unknown[]>(caseId: string, query: QueryDefinition<T, A>): Promise<T> {
    const handle = sys().client.workflow.getHandle(caseWorkflowId(caseId));
    const noPoller = (err: unknown) => (err as { cause?: { code?: number } }).cause?.code === 9;
    const answer = await eventually(
      () => handle.query(query, ...([] as unknown as A)).then((value) => ({ value }), (err: unknown) => (noPoller(err) ? null : Promise.reject(err))),
      (a) => a !== null,
      `${caseId} answers a query`,
    );
    return answer!.value;
  }

  async function counters(ids: string[]): Promise<number[]> {
    return Promise.all(ids.map(async (id) => (await queryCase(id, readModelSnapshotQuery)).revision));
  }

  /**
   * The end of every scenario: verify, through the CLI, finds nothing missing and nothing stale (it may take
   * the fan-out a few seconds more), and each open case holds the revision in its timeline. `expected` gives
   * each case's change counter as it must now be: its counter before the scenario plus the changes the
   * scenario sent it, so a revision applied twice (or an event lost) fails here. The read model agrees with
   * each case: its row is at the case's counter, shows the case's content, and records the revision.
   */
  async function convergedOnce(policy: PolicyRevision, openIds: string[], expected?: number[]): Promise<void> {
    const result = await eventually(() => sys().ops('verify'), (r) => r.code === 0, `verify clean after ${policy.policyId}`, 300);
    expect(result.stdout).toContain('OK: 0 missing, 0 stale, 0 pending fan-outs, 0 dead fan-outs');
    expect(result.stdout).toContain(`policy ${policy.policyId} rev. ${policy.revision}: every open case in scope has it`);
    const holding: number[] = [];
    for (const caseId of openIds) {
      const timeline = await queryCase(caseId, timelineQuery);
      holding.push(timeline.policies.filter((p) => p.policyId === policy.policyId && p.revision === policy.revision).length);
    }
    expect(holding).toEqual(Array(openIds.length).fill(1));
    // Each case is sent the revision once more, as a retried signal or a later pass would deliver it: it must
    // answer that it had it, and its counter must not move.
    const again = await Promise.all(openIds.map(async (id) => (await sys().client.workflow.getHandle(caseWorkflowId(id)).executeUpdate(applyPolicyUpdate, { args: [policy] })).applied));
    expect(again).toEqual(Array(openIds.length).fill(false));
    const now = await counters(openIds);
    if (expected) expect(now).toEqual(expected);
    const rows = await sys().db.query<{ case_id: string; revision: number; applied: boolean }>(
      `SELECT case_id, revision, EXISTS (SELECT 1 FROM case_policies cp WHERE cp.case_id = c.case_id AND cp.policy_id = $2 AND cp.revision = $3) AS applied
       FROM cases c WHERE case_id = ANY($1)`,
      [openIds, policy.policyId, policy.revision],
    );
    const byId = new Map(rows.map((r) => [r.case_id, { revision: r.revision, applied: r.applied }]));
    expect(openIds.map((id) => byId.get(id))).toEqual(now.map((revision) => ({ revision, applied: true })));
  }

  /** Counters as they must be after one more change each. */
  const plusOne = (before: number[]) => before.map((n) => n + 1);

  /** The row's timeline and the case's own snapshot, each as canonical JSON: equal when the row shows the case byte for byte. */
  async function rowAndCase(caseId: string): Promise<{ row: string; case: string; revision: number; runId: string | null }> {
    const snapshot = await queryCase(caseId, readModelSnapshotQuery);
    const [row] = await sys().db.query<{ timeline: unknown; revision: number; run_id: string | null }>('SELECT timeline, revision, run_id FROM cases WHERE case_id = $1', [caseId]);
    expect(row?.revision).toBe(snapshot.revision);
    expect(row?.run_id).toBe(snapshot.runId);
    return { row: canonicalJson(row?.timeline), case: canonicalJson(snapshot.timeline), revision: snapshot.revision, runId: snapshot.runId ?? null };
  }

  /** The case's run and its last completed task, once the case is idle: no task and no activity pending. */
  async function idlePoint(caseId: string): Promise<{ runId: string; eventId: number }> {
    const handle = sys().client.workflow.getHandle(caseWorkflowId(caseId));
    const point = await eventually(
      async () => {
        const described = await handle.describe();
        const events = (await handle.fetchHistory()).events ?? [];
        const completed = events.filter((e) => e.workflowTaskCompletedEventAttributes).at(-1);
        const idle = (described.raw.pendingActivities ?? []).length === 0 && !described.raw.pendingWorkflowTask && completed !== undefined;
        return { idle, runId: described.runId, eventId: Number(completed?.eventId ?? 0) };
      },
      (p) => p.idle,
      `${caseId} idle`,
    );
    return { runId: point.runId, eventId: point.eventId };
  }

  /**
   * `temporal workflow reset` with nothing reapplied (--reapply-exclude All): the case as it was at `point`, in
   * a new run; what it received after that point is gone. Returns the new run's id.
   */
  async function resetTo(caseId: string, point: { runId: string; eventId: number }): Promise<string> {
    const { enums } = temporal.api;
    const reset: temporal.api.workflowservice.v1.IResetWorkflowExecutionResponse = await sys().client.workflowService.resetWorkflowExecution({
      namespace: 'default',
      workflowExecution: { workflowId: caseWorkflowId(caseId), runId: point.runId },
      reason: 'fault test: reset to before a change',
      // protobufjs takes a plain number for an int64 field; its typings name only Long.
      workflowTaskFinishEventId: point.eventId as unknown as Long,
      requestId: randomUUID(),
      resetReapplyExcludeTypes: [enums.v1.ResetReapplyExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_SIGNAL, enums.v1.ResetReapplyExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_UPDATE],
    });
    return reset.runId!;
  }

  /** Waits until some but not all cases have applied the revision: the fan-out is under way. */
  async function midway(policy: PolicyRevision, total: number, atLeast: number): Promise<number> {
    const n = await eventually(() => appliedCount(policy.policyId, policy.revision), (x) => x >= atLeast, 'part of the fan-out', 300);
    expect(n).toBeLessThan(total);
    return n;
  }

  return { today, openCases, firstTasksDone, pause, appliedCount, counters, convergedOnce, plusOne, rowAndCase, idlePoint, resetTo, midway };
}

export function faultScenarios(sys: () => ProcessSystem): void {
  const { today, openCases, firstTasksDone, pause, counters, convergedOnce, plusOne, rowAndCase, idlePoint, resetTo, midway } = faultHelpers(sys);

  test('the worker killed (SIGKILL) in the middle of a fan-out: a new worker finishes it', async () => {
    const ids = await openCases('KILL-W', '101', 80);
    const policy = pause('fault-worker', ['101']);
    const before = await counters(ids);
    expect((await sys().api('POST', '/api/v1/policy-changes', policy)).status).toBe(201);
    await midway(policy, ids.length, 10);
    await sys().killWorker();
    sys().startWorker();
    await convergedOnce(policy, ids, plusOne(before));
  });

  test('the fan-out killed between a case\'s Update and the write of its row: the read-model pass finds the row without the revision, each counter rises by one, verify is clean', async () => {
    const ids = await openCases('KILL-AFTER-UPDATE', '163', 3);
    const opened = await counters(ids);
    const target = ids[0]!;
    const policy = pause('fault-after-update', ['163']);
    // Every worker now dies (SIGKILL) the moment the fan-out's Update of the target has completed.
    await sys().killWorker();
    sys().startWorker(undefined, { NODE_OPTIONS: `--require ${path.join(__dirname, 'kill-after-update.js')}`, SFE_KILL_AFTER_UPDATE_OF: caseWorkflowId(target) });
    const handle = sys().client.workflow.getHandle(caseWorkflowId(target));
    const updatedAt = Number((await handle.describe()).historyLength);
    expect((await sys().api('POST', '/api/v1/policy-changes', policy)).status).toBe(201);
    // The case has the revision (its history holds the completed Update; no worker need answer, the only one
    // kills itself the moment the Update completes); its row, which only the dead caller was to write, does not.
    await eventually(
      async () => ((await handle.fetchHistory()).events ?? []).filter((e) => Number(e.eventId) > updatedAt && e.workflowExecutionUpdateCompletedEventAttributes).length,
      (n) => n >= 1,
      'the Update applied in the case',
    );
    await sys().killWorker();
    expect((await sys().db.query<{ revision: number }>('SELECT revision FROM cases WHERE case_id = $1', [target]))[0]!.revision).toBe(opened[0]!);
    sys().startWorker();
    await convergedOnce(policy, ids, plusOne(opened));
    // One workflow task applied it, and the case scheduled no write of its own: the caller wrote the row.
    const after = ((await handle.fetchHistory()).events ?? []).filter((e) => Number(e.eventId) > updatedAt);
    expect(after.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name)).toEqual([]);
    expect(after.filter((e) => e.workflowExecutionUpdateCompletedEventAttributes).length).toBeGreaterThanOrEqual(1);
  });

  test('the worker killed after a read-model write committed and before it reported it: the write is retried, each counter rises by one, verify is clean', async () => {
    const ids = await openCases('KILL-AFTER-WRITE', '155', 3);
    const opened = await counters(ids);
    const target = ids[0]!;
    const policy = pause('fault-after-write', ['155']);
    // Every worker now dies (SIGKILL) the moment Postgres has committed a write of the target's row.
    await sys().killWorker();
    sys().startWorker(undefined, { NODE_OPTIONS: `--require ${path.join(__dirname, 'kill-after-write.js')}`, SFE_KILL_AFTER_WRITE_OF: target });
    expect((await sys().api('POST', '/api/v1/policy-changes', policy)).status).toBe(201);
    await eventually(() => sys().db.query<{ revision: number }>('SELECT revision FROM cases WHERE case_id = $1', [target]), (r) => r[0]?.revision === opened[0]! + 1, 'the write that kills the worker');
    await sys().killWorker();
    sys().startWorker();
    // The fan-out's page wrote the row and never reported: Temporal times the page out (its heartbeat) and a
    // new worker runs it again, which finds the target applied and written and changes nothing of it.
    const fanout = sys().client.workflow.getHandle(policyFanoutWorkflowId(policy.policyId, policy.revision));
    const retried = await eventually(
      async () => (await fanout.fetchHistory()).events ?? [],
      (events) => events.some((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 0) >= 2),
      'the page retried',
      400,
    );
    expect(retried.filter((e) => e.activityTaskCompletedEventAttributes).length).toBeGreaterThan(0);
    await convergedOnce(policy, ids, plusOne(opened));
    expect((await sys().db.query<{ revision: number }>('SELECT revision FROM cases WHERE case_id = $1', [target]))[0]!.revision).toBe(opened[0]! + 1);
  });

  test("the worker killed after a case's first task wrote its row and before the task completed: the retry asks the registry again, its row replaces the first, one task opened the case, verify is clean", async () => {
    const caseId = 'KILL-OPENING';
    const registry = createPolicyRegistry(sys().db);
    const publish = (revision: PolicyRevision) =>
      sys().db.transaction(async (tx) => {
        await registry.lock(tx, revision.policyId);
        await registry.insert(tx, revision);
      });
    // The API's copy of the registry, read before a revision it does not see: the case finds it in its first task.
    const copy = await registry.inheritedBy('169');
    await publish(pause('fault-opening', ['169']));
    // Every worker now dies (SIGKILL) the moment Postgres has committed a write of the case's row.
    await sys().killWorker();
    sys().startWorker(undefined, { NODE_OPTIONS: `--require ${path.join(__dirname, 'kill-after-write.js')}`, SFE_KILL_AFTER_WRITE_OF: caseId });
    const facts = { caseId, citizenRef: `REF-${caseId}`, municipality: '169', firstAbsenceDay: addDays(today(), -3), employment: 'employee' as const };
    await sys().client.workflow.start('caseWorkflow', {
      workflowId: caseWorkflowId(caseId),
      taskQueue: sys().taskQueue,
      args: [{ facts, policies: copy.policies, registryPosition: copy.position }],
      typedSearchAttributes: caseStartSearchAttributes(caseId, '169'),
    });
    const rowPolicies = () => sys().db.query<{ policies: string[] }>(
      `SELECT ARRAY(SELECT p->>'policyId' || '#' || (p->>'revision') FROM jsonb_array_elements(timeline->'policies') p) AS policies FROM cases WHERE case_id = $1`,
      [caseId],
    );
    await eventually(rowPolicies, (rows) => rows[0]?.policies.join() === 'fault-opening#1', 'the first attempt writing its row');
    await sys().killWorker();
    const handle = sys().client.workflow.getHandle(caseWorkflowId(caseId));
    expect(((await handle.fetchHistory()).events ?? []).filter((e) => e.workflowTaskCompletedEventAttributes)).toEqual([]);
    // Meanwhile the policy moves on: the retried task finds revision 2 where the first attempt found 1, and
    // computes another timeline at the same case revision, from a later registry position.
    const second = pause('fault-opening', ['169'], { revision: 2, effects: [{ type: 'switchConversationMode', mode: 'phone' }] });
    await publish(second);
    sys().startWorker();
    await eventually(rowPolicies, (rows) => rows[0]?.policies.join() === 'fault-opening#2', "the retry's row replacing the first");
    const { row, case: shown, revision } = await rowAndCase(caseId);
    expect(row).toBe(shown);
    // Its start, then the one revision it applied: the first attempt's revision 1 never reached the history.
    expect(revision).toBe(2);
    const events = (await handle.fetchHistory()).events ?? [];
    expect(events.filter((e) => e.workflowTaskCompletedEventAttributes).length).toBe(1);
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes)).toEqual([]);
    await convergedOnce(second, [caseId], [2]);
  });

  test('the Temporal server killed (SIGKILL) in the middle of a fan-out and started again on the same data', async () => {
    const ids = await openCases('KILL-T', '147', 80);
    const policy = pause('fault-temporal', ['147']);
    const before = await counters(ids);
    expect((await sys().api('POST', '/api/v1/policy-changes', policy)).status).toBe(201);
    await midway(policy, ids.length, 10);
    await sys().killTemporal();
    await new Promise((r) => setTimeout(r, 1_000));
    await sys().startTemporal();
    await convergedOnce(policy, ids, plusOne(before));
  });

  test('Postgres stopped in the middle of a fan-out and started again', async () => {
    const ids = await openCases('STOP-PG', '157', 80);
    const policy = pause('fault-postgres', ['157']);
    const before = await counters(ids);
    expect((await sys().api('POST', '/api/v1/policy-changes', policy)).status).toBe(201);
    await midway(policy, ids.length, 10);
    await sys().stopPostgres();
    await new Promise((r) => setTimeout(r, 2_000));
    await sys().startPostgres();
    await convergedOnce(policy, ids, plusOne(before));
  });

  test('cases that close or continue as new while the fan-out runs: the open ones get it once, the closed ones are not missing', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `MOVE-${i}`);
    // Started as the API does, but with short runs, so that a few events make a case continue as new.
    for (const caseId of ids) {
      await sys().client.workflow.start('caseWorkflow', {
        workflowId: caseWorkflowId(caseId),
        taskQueue: sys().taskQueue,
        args: [{ facts: { caseId, citizenRef: `REF-${caseId}`, municipality: '159', firstAbsenceDay: addDays(today(), -3), employment: 'employee' }, policies: [], maxHistoryEvents: 25 }],
        typedSearchAttributes: caseStartSearchAttributes(caseId, '159'),
      });
    }
    await firstTasksDone(ids);
    const policy = pause('fault-moving', ['159']);
    const closing = ids.slice(0, 10);
    const moving = ids.slice(10, 20);
    const firstRuns = new Map(await Promise.all(moving.map(async (id) => [id, (await sys().client.workflow.getHandle(caseWorkflowId(id)).describe()).runId] as const)));
    const open = ids.filter((id) => !closing.includes(id));
    const before = await counters(open);
    expect((await sys().api('POST', '/api/v1/policy-changes', policy)).status).toBe(201);
    let n = 0;
    await Promise.all([
      ...closing.map((id) => sys().api('POST', `/api/v1/cases/${id}/events`, { eventId: 'end', type: 'recovered', occurredOn: today() })),
      ...moving.map(async (id) => {
        const handle = sys().client.workflow.getHandle(caseWorkflowId(id));
        for (let i = 0; i < 6; i++) {
          await handle.executeUpdate(reportEventUpdate, { args: [{ eventId: `m-${++n}`, type: i % 2 ? 'certificate-received' : 'certificate-requested', occurredOn: today() }] });
        }
      }),
    ]);
    // Each moving case was sent six events and the policy, across its runs; every other open case the policy.
    await convergedOnce(policy, open, open.map((id, i) => before[i]! + (moving.includes(id) ? 7 : 1)));
    // The moving cases did continue as new, and the closed ones are closed.
    for (const id of moving) expect((await sys().client.workflow.getHandle(caseWorkflowId(id)).describe()).runId).not.toBe(firstRuns.get(id));
    for (const id of closing) expect((await sys().client.workflow.getHandle(caseWorkflowId(id)).describe()).status.name).toBe('COMPLETED');
  });

  test('the API killed between storing a publication and starting its fan-out: the next API instance starts it once, and publishing again answers 200', async () => {
    const ids = await openCases('KILL-API', '161', 40);
    const policy = pause('fault-api', ['161']);
    const before = await counters(ids);
    // Temporal is down when the API stores the revision, so the fan-out cannot start; then the API dies.
    await sys().killTemporal();
    const stored = await sys().api('POST', '/api/v1/policy-changes', policy);
    expect(stored.status).toBe(202);
    expect(stored.body.fanouts).toEqual([expect.objectContaining({ workflowId: policyFanoutWorkflowId('fault-api', 1), status: 'pending' })]);
    await sys().killApi();
    await sys().startTemporal();
    // A new API instance notices the pending fan-out when it starts.
    await sys().startApi();
    const again = await sys().api('POST', '/api/v1/policy-changes', policy);
    expect(again.status).toBe(200);
    await convergedOnce(policy, ids, plusOne(before));
    const view = await eventually(() => sys().api('GET', '/api/v1/policy-changes/fault-api'), (v) => v.body.fanouts[0]?.status === 'completed', 'fan-out completed');
    expect(view.body.fanouts).toEqual([expect.objectContaining({ workflowId: policyFanoutWorkflowId('fault-api', 1), status: 'completed', missing: 0 })]);

    // The same, with Temporal up: the API dies right after its transaction committed (the rows it leaves are
    // written here as its transaction writes them), and the next API instance starts the fan-out.
    const later = pause('fault-api', ['161'], { revision: 2, effectiveTo: today() });
    const counted = await counters(ids);
    await sys().killApi();
    const registry = createPolicyRegistry(sys().db);
    await sys().db.transaction(async (tx) => {
      await registry.lock(tx, later.policyId);
      await registry.insert(tx, later);
      await registry.insertFanout(tx, { workflowId: policyFanoutWorkflowId('fault-api', 2), policyId: 'fault-api', revision: 2, kind: 'publish' });
    });
    await sys().startApi();
    await convergedOnce(later, ids, plusOne(counted));
  });

  test('a revision that narrows the scope reaches the cases it leaves, which follow it to its endedFor day, as the what-if engine says', async () => {
    const inScope = await openCases('NARROW-IN', '165', 20);
    const dropped = await openCases('NARROW-OUT', '167', 20);
    const rev1 = pause('fault-narrowed', ['165', '167'], { effectiveFrom: addDays(today(), -2) });
    const opened = await counters([...inScope, ...dropped]);
    expect((await sys().api('POST', '/api/v1/policy-changes', rev1)).status).toBe(201);
    await convergedOnce(rev1, [...inScope, ...dropped], plusOne(opened));
    const before = await counters([...inScope, ...dropped]);
    const rev2 = pause('fault-narrowed', ['165'], {
      revision: 2,
      effectiveFrom: addDays(today(), -2),
      endedFor: [{ scope: { type: 'municipalities', municipalities: ['167'] }, effectiveTo: addDays(today(), -1) }],
    });
    expect((await sys().api('POST', '/api/v1/policy-changes', rev2)).status).toBe(201);
    await convergedOnce(rev2, [...inScope, ...dropped], plusOne(before));
    const out = (await sys().api('GET', `/api/v1/cases/${dropped[0]}`)).body;
    const simulated = (
      await sys().api(
        'POST',
        '/api/v1/timeline/simulate',
        { facts: { caseId: dropped[0], citizenRef: `REF-${dropped[0]}`, municipality: '167', firstAbsenceDay: addDays(today(), -3), employment: 'employee' }, policies: [rev1, rev2] },
        'case-system',
      )
    ).body;
    expect(out.deadlines).toEqual(simulated.deadlines);
    // Paused for two days that ended yesterday: due two days after the end of week 8, no longer paused.
    expect(out.deadlines.find((d: any) => d.id === 'first-conversation')).toMatchObject({ status: 'pending', dueDate: addDays(today(), -3 + 55 + 2) });
    const inside = (await sys().api('GET', `/api/v1/cases/${inScope[0]}`)).body;
    expect(inside.deadlines.find((d: any) => d.id === 'first-conversation')).toMatchObject({ status: 'paused', dueDate: null });
  });

  test('verify finds a case that lacks a revision, a row ahead of its case, rows from an older backup, a row edited by hand and a case_policies row the case does not hold; repair and rebuild fix them', async () => {
    const ids = await openCases('REPAIR', '173', 20);
    const policy = pause('fault-repair', ['173']);
    const opened = await counters(ids);
    expect((await sys().api('POST', '/api/v1/policy-changes', policy)).status).toBe(201);
    await convergedOnce(policy, ids, plusOne(opened));

    // A backup of Postgres now; then the cases move on, and Postgres is restored from the backup.
    await sys().backupPostgres();
    for (const caseId of ids.slice(0, 5)) {
      expect((await sys().api('POST', `/api/v1/cases/${caseId}/events`, { eventId: 'after-backup', type: 'categorized', category: 2, occurredOn: today() })).status).toBe(200);
    }
    await eventually(
      () => sys().db.query<{ n: string }>(`SELECT count(*) AS n FROM cases WHERE case_id = ANY($1) AND category = 2`, [ids.slice(0, 5)]),
      (rows) => rows[0]!.n === '5',
      'written before the restore',
    );
    await sys().restorePostgres();
    // A row ahead of its case (as a restore from another system would leave it), a row edited by hand, a
    // case_policies row for a revision the case never held, and a case started by a path that neither
    // inherited the revision nor asked the registry (it had no registry position to ask from).
    await sys().db.query(`UPDATE cases SET revision = revision + 5 WHERE case_id = $1`, [ids[5]]);
    await sys().db.query(`UPDATE cases SET status = 'closed' WHERE case_id = $1`, [ids[6]]);
    await sys().db.query(`INSERT INTO case_policies (case_id, policy_id, revision) VALUES ($1, 'fault-repair', 9)`, [ids[7]]);
    await sys().client.workflow.start('caseWorkflow', {
      workflowId: caseWorkflowId('REPAIR-LEGACY'),
      taskQueue: sys().taskQueue,
      args: [{ facts: { caseId: 'REPAIR-LEGACY', citizenRef: 'REF-L', municipality: '173', firstAbsenceDay: addDays(today(), -3), employment: 'employee' }, policies: [] }],
      typedSearchAttributes: [
        { key: CaseIdKey, value: 'REPAIR-LEGACY' },
        { key: MunicipalityKey, value: '173' },
      ],
    });
    await firstTasksDone(['REPAIR-LEGACY']);
    const [legacyStarted] = await counters(['REPAIR-LEGACY']);
    const found = await eventually(() => sys().ops('verify'), (r) => r.stdout.includes('1 open cases in scope lack it') && r.stdout.includes('5 behind, 1 ahead'), 'verify finds them');
    expect(found.code).toBe(1);
    expect(found.stdout).toContain('policy fault-repair rev. 1: 1 open cases in scope lack it (sickness-case-REPAIR-LEGACY)');
    expect(found.stdout).toContain('5 behind, 1 ahead, 0 of another run or content, 1 altered, 0 never ran');
    expect(found.stdout).toContain(`case_policies: 1 rows for revisions the case does not hold, 0 revisions held but not recorded (${ids[7]} fault-repair#9 stale)`);
    // The fan-out's row came back from the backup too: if the fan-out had not yet finished then, its row says
    // running while its workflow has completed, and repair takes its final progress from the workflow.
    expect(found.stdout).toMatch(/NOT CONVERGED: 1 missing, 8 stale, 0 pending fan-outs, [01] dead fan-outs/);

    const rebuilt = await sys().ops('read-model', 'rebuild');
    expect(rebuilt.stdout).toMatch(/Rebuilt: \d+ of \d+ cases written from their workflows\./);
    const repaired = await sys().ops('repair');
    expect(repaired.stdout).toContain('Repaired: nothing missing, nothing stale.');
    expect(repaired.code).toBe(0);
    // Each case's counter: the policy once, the five the event after the backup once, the late case the policy once.
    await convergedOnce(policy, [...ids, 'REPAIR-LEGACY'], [...opened.map((n, i) => n + 1 + (i < 5 ? 1 : 0)), legacyStarted! + 1]);
    const rows = await sys().db.query<{ case_id: string; category: number | null }>(`SELECT case_id, category FROM cases WHERE case_id = ANY($1) ORDER BY case_id`, [ids.slice(0, 5)]);
    expect(rows.map((r) => r.category)).toEqual([2, 2, 2, 2, 2]);
    // The fan-out's row ends completed: from its workflow's result if the restore left it running after the
    // fan-out ended, or by the fan-out itself if it was still running (it finds the late case on a later pass).
    const fanout = await eventually(() => sys().api('GET', '/api/v1/policy-changes/fault-repair'), (r) => r.body.fanouts?.[0]?.status === 'completed', 'the fan-out row completed', 400);
    expect(fanout.body.fanouts).toEqual([expect.objectContaining({ status: 'completed', missing: 0 })]);
    const edited = await rowAndCase(ids[6]!);
    expect(edited.row).toBe(edited.case);
    expect(await sys().db.query(`SELECT policy_id, revision FROM case_policies WHERE case_id = $1`, [ids[7]])).toEqual([{ policy_id: 'fault-repair', revision: 1 }]);
  });

  test('a case reset to before an event and sent a different one: verify flags the row of the old run, and the row follows the new run at the same revision', async () => {
    const [id] = await openCases('RESET-EVENT', '175', 1);
    // A first event, whose row is written by activity: the task that takes that activity's result changes
    // nothing, and the case is reset to it (resetting to the first task would start the case over).
    expect((await sys().api('POST', `/api/v1/cases/${id}/events`, { eventId: 'e0', type: 'certificate-requested', occurredOn: today() })).status).toBe(200);
    const point = await idlePoint(id!);
    const [before] = await counters([id!]);
    // e1 closes nothing but changes the case; the reset takes it away again.
    expect((await sys().api('POST', `/api/v1/cases/${id}/events`, { eventId: 'e1', type: 'categorized', category: 2, occurredOn: today() })).status).toBe(200);
    await eventually(() => rowAndCase(id!).catch(() => null), (r) => r !== null && r.revision === before! + 1 && r.row === r.case, 'e1 in the row');
    const oldRun = await rowAndCase(id!);

    // The worker is down while the case is reset, so the new run cannot write: the row still shows e1.
    await sys().killWorker();
    let newRun: string;
    try {
      newRun = await resetTo(id!, point);
      const flagged = await eventually(() => sys().ops('verify'), (r) => r.stdout.includes('1 of another run or content'), 'verify flags the reset case');
      expect(flagged.code).toBe(1);
      expect(flagged.stdout).toContain(`${id}: differs, workflow ${before}, row ${before! + 1}`);
    } finally {
      sys().startWorker();
    }

    // e2, different, makes the new run's counter what the old run's was with e1: the row must follow the new run.
    expect((await sys().api('POST', `/api/v1/cases/${id}/events`, { eventId: 'e2', type: 'certificate-received', occurredOn: today() })).status).toBe(200);
    const repaired = await sys().ops('repair');
    expect(repaired.stdout).toContain('Repaired: nothing missing, nothing stale.');
    const now = await rowAndCase(id!);
    expect(now).toMatchObject({ revision: before! + 1, runId: newRun! });
    expect(now.row).toBe(now.case);
    expect(now.row).not.toBe(oldRun.row);
    expect(JSON.parse(now.row)).toMatchObject({ category: null });
    // The overdue report and the case agree that the case is open.
    const [row] = await sys().db.query<{ status: string }>('SELECT status FROM cases WHERE case_id = $1', [id]);
    expect(row!.status).toBe('open');
  });

  test('a case reset to before a policy: verify flags the row and the missing revision, repair signals it again and makes the row match the case', async () => {
    const ids = await openCases('RESET-POLICY', '151', 3);
    expect((await sys().api('POST', `/api/v1/cases/${ids[0]}/events`, { eventId: 'e0', type: 'certificate-requested', occurredOn: today() })).status).toBe(200);
    const point = await idlePoint(ids[0]!);
    const opened = await counters(ids);
    const policy = pause('fault-reset', ['151']);
    expect((await sys().api('POST', '/api/v1/policy-changes', policy)).status).toBe(201);
    await convergedOnce(policy, ids, plusOne(opened));

    await sys().killWorker();
    try {
      await resetTo(ids[0]!, point);
      const flagged = await eventually(
        () => sys().ops('verify'),
        (r) => r.stdout.includes('policy fault-reset rev. 1: 1 open cases in scope lack it') && r.stdout.includes('1 of another run or content'),
        'verify flags the case reset to before the policy',
      );
      expect(flagged.code).toBe(1);
    } finally {
      sys().startWorker();
    }
    const repaired = await sys().ops('repair');
    expect(repaired.stdout).toContain('Repaired: nothing missing, nothing stale.');
    expect(repaired.code).toBe(0);
    // The reset case applied the policy again in its new run: its counter is one above where it was reset to.
    await convergedOnce(policy, ids, plusOne(opened));
    const now = await rowAndCase(ids[0]!);
    expect(now.row).toBe(now.case);
    expect(await sys().db.query(`SELECT policy_id, revision FROM case_policies WHERE case_id = $1`, [ids[0]])).toEqual([{ policy_id: 'fault-reset', revision: 1 }]);
  });

  test('a case whose first task has not run is reported once older than the grace period; it is clean once the worker runs it', async () => {
    await sys().killWorker();
    const caseId = 'NOT-RUN-0';
    try {
      expect((await sys().api('POST', '/api/v1/cases', { caseId, citizenRef: `REF-${caseId}`, municipality: '153', firstAbsenceDay: addDays(today(), -3) })).status).toBe(201);
      const young = await sys().ops('verify');
      expect(young.stdout).toContain('0 never ran');
      const flagged = await eventually(() => sys().ops('verify', '--grace-seconds', '0'), (r) => r.stdout.includes('1 never ran'), 'verify reports the case that never ran');
      expect(flagged.code).toBe(1);
      expect(flagged.stdout).toContain(`${caseId}: not-run, workflow none, row none`);
    } finally {
      sys().startWorker();
    }
    await firstTasksDone([caseId]);
    const clean = await eventually(() => sys().ops('verify', '--grace-seconds', '0'), (r) => r.code === 0, 'verify clean once the case ran');
    expect(clean.stdout).toContain('0 never ran');
    expect(await counters([caseId])).toEqual([1]);
  });

  test('a fan-out terminated while its row says running is reported dead; repair abandons it and brings the revision to the cases it left', async () => {
    const ids = await openCases('DEAD-FANOUT', '183', 10);
    const opened = await counters(ids);
    const policy = pause('fault-dead-fanout', ['183']);
    // No worker runs the fan-out, which is then terminated: its row says running, and no case has the revision.
    const fanoutId = policyFanoutWorkflowId('fault-dead-fanout', 1);
    await sys().killWorker();
    try {
      expect((await sys().api('POST', '/api/v1/policy-changes', policy)).status).toBe(201);
      await sys().client.workflow.getHandle(fanoutId).terminate('fault test: a dead fan-out');
    } finally {
      sys().startWorker();
    }
    const flagged = await eventually(() => sys().ops('verify'), (r) => r.stdout.includes('fan-outs closed or gone while their row says pending or running'), 'verify reports the dead fan-out');
    expect(flagged.code).toBe(1);
    expect(flagged.stdout).toContain(`fan-outs closed or gone while their row says pending or running: ${fanoutId}`);
    expect(flagged.stdout).toContain('policy fault-dead-fanout rev. 1: 10 open cases in scope lack it');
    const repaired = await sys().ops('repair');
    expect(repaired.stdout).toContain('1 dead fan-outs closed');
    expect(repaired.stdout).toContain('Repaired: nothing missing, nothing stale.');
    await convergedOnce(policy, ids, plusOne(opened));
    const view = await sys().api('GET', '/api/v1/policy-changes/fault-dead-fanout');
    expect(view.body.fanouts).toEqual([expect.objectContaining({ workflowId: fanoutId, status: 'abandoned' })]);
  });
}
