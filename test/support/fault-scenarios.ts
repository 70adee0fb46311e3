import { addDays, copenhagenDate } from '../../workflows/domain/dates';
import { type PolicyRevision } from '../../workflows/domain/types';
import { createPolicyRegistry } from '../../platform/policy-registry';
import { caseWorkflowId, policyFanoutWorkflowId, readModelSnapshotQuery, reportEventUpdate, timelineQuery } from '../../workflows/messages';
import { CaseIdKey, CaseStatusKey, MunicipalityKey } from '../../workflows/search-attributes';
import { type ProcessSystem } from './processes';
import { eventually, settledCases } from './system';

/**
 * The fault-injection scenarios, run against both topologies (test/integration/faults.test.ts on the dev
 * server, test/integration/cluster.test.ts on the Temporal cluster): the worker, Temporal and the API killed
 * (SIGKILL), Postgres stopped, cases closing or continuing as new under the fan-out, a revision that narrows
 * the scope. Each scenario ends with `npm run ops -- verify` (the CLI, through the API) reporting nothing
 * missing and nothing stale, and every case having applied the revision once: each case's own change counter
 * (CaseRevision, which every application of a revision raises) rose by exactly one. `sys` gives the system the
 * suite started in its beforeAll. On the cluster, "the worker" and "the API" are every worker and API instance.
 */
/** What the scenarios share, for other suites too (cluster.test.ts). */
export function faultHelpers(sys: () => ProcessSystem) {
  const today = () => copenhagenDate(Date.now());

  async function openCases(prefix: string, municipality: string, count: number): Promise<string[]> {
    const ids = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
    for (let from = 0; from < count; from += 20) {
      const statuses = await Promise.all(
        ids.slice(from, from + 20).map(async (caseId) => (await sys().api('POST', '/api/v1/cases', { caseId, citizenRef: `REF-${caseId}`, municipality, firstAbsenceDay: addDays(today(), -3) })).status),
      );
      expect(statuses).toEqual(Array(statuses.length).fill(201));
    }
    await firstTasksDone(ids);
    return ids;
  }

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
  async function counters(ids: string[]): Promise<number[]> {
    return Promise.all(ids.map(async (id) => (await sys().client.workflow.getHandle(caseWorkflowId(id)).query(readModelSnapshotQuery)).revision));
  }

  /**
   * The end of every scenario: verify, through the CLI, finds nothing missing and nothing stale (it may take
   * the fan-out a few seconds more), and each open case holds the revision in its timeline. Given the cases'
   * counters from before the publication (for cases nothing else happened to), each rose by exactly one: the
   * revision was applied once, however often it was signalled.
   */
  async function convergedOnce(policy: PolicyRevision, openIds: string[], countersBefore?: number[]): Promise<void> {
    const result = await eventually(() => sys().ops('verify'), (r) => r.code === 0, `verify clean after ${policy.policyId}`, 300);
    expect(result.stdout).toContain('OK: 0 missing, 0 stale, 0 pending fan-outs');
    expect(result.stdout).toContain(`policy ${policy.policyId} rev. ${policy.revision}: every open case in scope has it`);
    const holding: number[] = [];
    for (const caseId of openIds) {
      const timeline = await sys().client.workflow.getHandle(caseWorkflowId(caseId)).query(timelineQuery);
      holding.push(timeline.policies.filter((p) => p.policyId === policy.policyId && p.revision === policy.revision).length);
    }
    expect(holding).toEqual(Array(openIds.length).fill(1));
    if (countersBefore) expect(await counters(openIds)).toEqual(countersBefore.map((n) => n + 1));
    // The read model agrees: every one of these cases is recorded as having applied it.
    expect(await appliedCount(policy.policyId, policy.revision, openIds)).toBe(openIds.length);
  }

  /** Waits until some but not all cases have applied the revision: the fan-out is under way. */
  async function midway(policy: PolicyRevision, total: number, atLeast: number): Promise<number> {
    const n = await eventually(() => appliedCount(policy.policyId, policy.revision), (x) => x >= atLeast, 'part of the fan-out', 300);
    expect(n).toBeLessThan(total);
    return n;
  }

  return { today, openCases, firstTasksDone, pause, appliedCount, counters, convergedOnce, midway };
}

export function faultScenarios(sys: () => ProcessSystem): void {
  const { today, openCases, firstTasksDone, pause, counters, convergedOnce, midway } = faultHelpers(sys);

  test('the worker killed (SIGKILL) in the middle of a fan-out: a new worker finishes it', async () => {
    const ids = await openCases('KILL-W', '101', 80);
    const policy = pause('fault-worker', ['101']);
    const before = await counters(ids);
    expect((await sys().api('POST', '/api/v1/policy-changes', policy)).status).toBe(201);
    await midway(policy, ids.length, 10);
    await sys().killWorker();
    sys().startWorker();
    await convergedOnce(policy, ids, before);
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
    await convergedOnce(policy, ids, before);
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
    await convergedOnce(policy, ids, before);
  });

  test('cases that close or continue as new while the fan-out runs: the open ones get it once, the closed ones are not missing', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `MOVE-${i}`);
    // Started as the API does, but with short runs, so that a few events make a case continue as new.
    for (const caseId of ids) {
      await sys().client.workflow.start('caseWorkflow', {
        workflowId: caseWorkflowId(caseId),
        taskQueue: sys().taskQueue,
        args: [{ facts: { caseId, citizenRef: `REF-${caseId}`, municipality: '159', firstAbsenceDay: addDays(today(), -3), employment: 'employee' }, policies: [], maxHistoryEvents: 25 }],
        typedSearchAttributes: [
          { key: CaseIdKey, value: caseId },
          { key: MunicipalityKey, value: '159' },
          { key: CaseStatusKey, value: 'open' },
        ],
      });
    }
    await firstTasksDone(ids);
    const policy = pause('fault-moving', ['159']);
    const closing = ids.slice(0, 10);
    const moving = ids.slice(10, 20);
    const firstRuns = new Map(await Promise.all(moving.map(async (id) => [id, (await sys().client.workflow.getHandle(caseWorkflowId(id)).describe()).runId] as const)));
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
    const open = ids.filter((id) => !closing.includes(id));
    await convergedOnce(policy, open);
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
    await convergedOnce(policy, ids, before);
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
    await convergedOnce(later, ids, counted);
  });

  test('a revision that narrows the scope reaches the cases it leaves, which follow it to its endedFor day, as the what-if engine says', async () => {
    const inScope = await openCases('NARROW-IN', '165', 20);
    const dropped = await openCases('NARROW-OUT', '167', 20);
    const rev1 = pause('fault-narrowed', ['165', '167'], { effectiveFrom: addDays(today(), -2) });
    expect((await sys().api('POST', '/api/v1/policy-changes', rev1)).status).toBe(201);
    await convergedOnce(rev1, [...inScope, ...dropped]);
    const before = await counters([...inScope, ...dropped]);
    const rev2 = pause('fault-narrowed', ['165'], {
      revision: 2,
      effectiveFrom: addDays(today(), -2),
      endedFor: [{ scope: { type: 'municipalities', municipalities: ['167'] }, effectiveTo: addDays(today(), -1) }],
    });
    expect((await sys().api('POST', '/api/v1/policy-changes', rev2)).status).toBe(201);
    await convergedOnce(rev2, [...inScope, ...dropped], before);
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

  test('verify finds a case that lacks a revision, a row ahead of its case and rows from an older backup; repair and rebuild fix them', async () => {
    const ids = await openCases('REPAIR', '173', 20);
    const policy = pause('fault-repair', ['173']);
    expect((await sys().api('POST', '/api/v1/policy-changes', policy)).status).toBe(201);
    await convergedOnce(policy, ids);

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
    // A row ahead of its case (as a restore from another system would leave it), and a case started by a path
    // that neither inherited the revision nor asked the registry (it had no registry position to ask from).
    await sys().db.query(`UPDATE cases SET revision = revision + 5 WHERE case_id = $1`, [ids[5]]);
    await sys().client.workflow.start('caseWorkflow', {
      workflowId: caseWorkflowId('REPAIR-LEGACY'),
      taskQueue: sys().taskQueue,
      args: [{ facts: { caseId: 'REPAIR-LEGACY', citizenRef: 'REF-L', municipality: '173', firstAbsenceDay: addDays(today(), -3), employment: 'employee' }, policies: [] }],
      typedSearchAttributes: [
        { key: CaseIdKey, value: 'REPAIR-LEGACY' },
        { key: MunicipalityKey, value: '173' },
      ],
    });
    const found = await eventually(() => sys().ops('verify'), (r) => r.stdout.includes('1 open cases in scope lack it') && r.stdout.includes('5 behind, 1 ahead'), 'verify finds them');
    expect(found.code).toBe(1);
    expect(found.stdout).toContain('policy fault-repair rev. 1: 1 open cases in scope lack it (sickness-case-REPAIR-LEGACY)');
    expect(found.stdout).toMatch(/NOT CONVERGED: 1 missing, 6 stale, 0 pending fan-outs/);

    const rebuilt = await sys().ops('read-model', 'rebuild');
    expect(rebuilt.stdout).toMatch(/Rebuilt: \d+ of \d+ cases written from their workflows\./);
    const repaired = await sys().ops('repair');
    expect(repaired.stdout).toContain('Repaired: nothing missing, nothing stale.');
    expect(repaired.code).toBe(0);
    await convergedOnce(policy, [...ids, 'REPAIR-LEGACY']);
    const rows = await sys().db.query<{ case_id: string; category: number | null }>(`SELECT case_id, category FROM cases WHERE case_id = ANY($1) ORDER BY case_id`, [ids.slice(0, 5)]);
    expect(rows.map((r) => r.category)).toEqual([2, 2, 2, 2, 2]);
  });
}
