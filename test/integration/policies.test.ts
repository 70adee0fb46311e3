import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { type Server } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor, WorkflowNotFoundError } from '@temporalio/client';
import { createApp } from '../../api/app';
import { type Role } from '../../platform/config';
import { readModelWindow, signalCases } from '../../policies/convergence';
import { createLogger } from '../../platform/logger';
import { addDays, copenhagenDate } from '../../workflows/domain/dates';
import { type CaseEvent, type PolicyRevision, type PolicyScope } from '../../workflows/domain/types';
import { applyPolicyUpdate, caseWorkflowId, policyFanoutWorkflowId, readModelSnapshotQuery, reportEventUpdate } from '../../workflows/messages';
import { createPolicyRegistry } from '../../policies/registry';
import { openCases as openCasesThroughApi } from '../support/cases';
import { eventually, startSystem, type TestSystem } from '../support/system';

/** Policy changes through the API against the real dev server, worker and Postgres. */
let system: TestSystem;
const root = path.resolve(__dirname, '..', '..');

beforeAll(async () => {
  system = await startSystem({ taskQueue: 'policy-integration' });
});

afterAll(async () => {
  await system?.stop();
});

const api = (method: string, p: string, body?: unknown) => system.api(method, p, body);
const today = () => copenhagenDate(Date.now());
let n = 0;

/** Opens cases (in Copenhagen unless `fields` says otherwise) and waits until a publication reaches them by fan-out only. */
const openCases = (count: number, fields: Record<string, unknown> = {}) => openCasesThroughApi({ ...system, client: system.env.client }, { prefix: 'POL', count, fields });

/** Waits until the newest fan-out of the policy has completed, and returns the policy as the API shows it. */
async function settled(policyId: string, revision: number, applied: number) {
  return eventually(
    () => api('GET', `/api/v1/policy-changes/${policyId}`),
    (res) => res.body.revision === revision && res.body.fanouts.every((f: any) => f.status === 'completed') && res.body.applied >= applied,
    `fan-out of ${policyId} rev. ${revision}`,
  );
}

const caseOf = async (caseId: string) => (await api('GET', `/api/v1/cases/${caseId}`)).body;
const deadline = (c: any, id: string) => c.deadlines.find((d: any) => d.id === id);

/**
 * Each case's change counter, as the case itself reports it: every revision it applies raises it by one,
 * so a revision applied twice shows as two (case_policies cannot show it: its primary key keeps one row).
 */
const counters = (ids: string[]) => Promise.all(ids.map(async (id) => (await system.env.client.workflow.getHandle(caseWorkflowId(id)).query(readModelSnapshotQuery)).revision));

/** Sends the revision to each case once more, as a repeated fan-out would; each answers whether it applied it. */
const sendAgain = (ids: string[], policy: PolicyRevision) =>
  Promise.all(ids.map(async (id) => (await system.env.client.workflow.getHandle(caseWorkflowId(id)).executeUpdate(applyPolicyUpdate, { args: [policy] })).applied));

/**
 * One more API instance on the same Postgres, as behind a load balancer: by default it reaches the same
 * Temporal; `client` gives it another (one that does not answer, say).
 */
async function anotherApi(options: { client?: Client; registryCopyMaxAgeMs?: number }) {
  const app = createApp({
    client: options.client ?? system.env.client,
    db: system.db,
    apiKeys: Object.entries(system.keys).map(([role, key]) => ({ role: role as Role, key })),
    temporal: { address: system.address, namespace: 'default', taskQueue: system.taskQueue, uiUrl: 'http://localhost:8233' },
    logger: createLogger('error'),
    registryCopyMaxAgeMs: options.registryCopyMaxAgeMs,
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    async call(method: string, p: string, body?: unknown, role: Role = 'ops') {
      const res = await fetch(`${base}${p}`, {
        method,
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), authorization: `Bearer ${system.keys[role]}` },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as any };
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

function pause(policyId: string, overrides: Partial<PolicyRevision> = {}): PolicyRevision {
  return {
    policyId,
    revision: 1,
    title: 'Delvis suspension af beskæftigelsesindsatsen',
    legalReference: 'BEK test',
    effectiveFrom: addDays(today(), -5),
    effectiveTo: null,
    scope: { type: 'municipalities', municipalities: ['101'] },
    effects: [{ type: 'pauseDeadlines', kinds: ['first-conversation', 'follow-up-conversation'] }],
    ...overrides,
  };
}

test('publish a pause: open cases show paused deadlines; lift it: due dates as computed; the same revision twice: applied once', async () => {
  const cases = await openCases(3);
  const opened = await counters(cases);
  const published = await api('POST', '/api/v1/policy-changes', pause('suspension-a'));
  expect(published.status).toBe(201);
  expect(published.body).toMatchObject({ policyId: 'suspension-a', revision: 1, state: 'active', history: [] });

  let view = await settled('suspension-a', 1, 3);
  expect(view.body.applied).toBe(3);
  expect(view.body.fanouts).toEqual([
    // The three open cases lacked it and were signalled once each; the final count found none left.
    expect.objectContaining({ workflowId: policyFanoutWorkflowId('suspension-a', 1), kind: 'publish', status: 'completed', matched: 3, lateStarters: 0, signalled: 3, failed: 0, missing: 0 }),
  ]);
  for (const caseId of cases) {
    const c = await caseOf(caseId);
    expect(deadline(c, 'first-conversation')).toMatchObject({ status: 'paused', dueDate: null, originalDueDate: addDays(today(), 45) });
    expect(c.policies).toEqual([expect.objectContaining({ policyId: 'suspension-a', revision: 1, state: 'active' })]);
  }
  expect(await counters(cases)).toEqual(opened.map((n) => n + 1));

  // Lifting: revision 2 ends the pause yesterday, so the 5 paused days move each date by 5.
  const lifted = await api('POST', '/api/v1/policy-changes', pause('suspension-a', { revision: 2, effectiveTo: addDays(today(), -1) }));
  expect(lifted.status).toBe(201);
  view = await settled('suspension-a', 2, 3);
  expect(view.body.history.map((r: any) => r.revision)).toEqual([1]);
  for (const caseId of cases) {
    const c = await eventually(() => caseOf(caseId), (x) => x.policies.length === 2, 'lift applied');
    expect(deadline(c, 'first-conversation')).toMatchObject({ status: 'pending', dueDate: addDays(today(), 50), originalDueDate: addDays(today(), 45) });
    expect(c.policies.map((p: any) => [p.revision, p.state])).toEqual([
      [2, 'ended'],
      [1, 'superseded'],
    ]);
  }

  const again = await api('POST', '/api/v1/policy-changes', pause('suspension-a', { revision: 2, effectiveTo: addDays(today(), -1) }));
  expect(again.status).toBe(200);
  expect(again.body.fanouts).toHaveLength(1);
  // Each case receives both revisions once more, as a repeated fan-out would send them: neither applies again.
  expect(await sendAgain(cases, pause('suspension-a'))).toEqual([false, false, false]);
  expect(await sendAgain(cases, pause('suspension-a', { revision: 2, effectiveTo: addDays(today(), -1) }))).toEqual([false, false, false]);
  // Two revisions, each applied once: every case's counter rose by exactly two since it opened.
  expect(await counters(cases)).toEqual(opened.map((n) => n + 2));
});

test('bad or contradictory changes answer 400 naming the problem, and nothing is stored or sent', async () => {
  const bad: [Record<string, unknown>, string, string][] = [
    [{ ...pause('bad-1'), effectiveTo: addDays(today(), -10) }, 'effectiveTo', 'effectiveTo is before effectiveFrom'],
    [{ ...pause('bad-2'), scope: { type: 'municipalities', municipalities: ['999'] } }, 'scope.municipalities.0', 'must be one of the 98 Danish municipality codes, e.g. "101" for København'],
    [{ ...pause('bad-3'), effects: [{ type: 'cancelEverything' }] }, 'effects.0.type', 'unknown effect: use pauseDeadlines, waiveDeadlines, extendCertificateValidity, switchConversationMode or extendBenefitPeriod'],
    [{ ...pause('bad-4'), scope: { type: 'regions', regions: ['Atlantis'] } }, 'scope.regions.0', expect.stringContaining('Hovedstaden') as unknown as string],
  ];
  for (const [body, field, problem] of bad) {
    const res = await api('POST', '/api/v1/policy-changes', body);
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([{ field, problem }]);
    expect((await api('GET', `/api/v1/policy-changes/${body.policyId}`)).status).toBe(404);
    await expect(system.env.client.workflow.getHandle(policyFanoutWorkflowId(String(body.policyId), 1)).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  }

  expect((await api('POST', '/api/v1/policy-changes', pause('lower', { revision: 3 }))).status).toBe(201);
  const lower = await api('POST', '/api/v1/policy-changes', pause('lower', { revision: 2 }));
  expect(lower.status).toBe(400);
  expect(lower.body.error.message).toBe('revision 2 is lower than the stored revision 3 of lower');
  const changed = await api('POST', '/api/v1/policy-changes', pause('lower', { revision: 3, title: 'Something else' }));
  expect(changed.status).toBe(409);
  const stored = await api('GET', '/api/v1/policy-changes/lower');
  expect(stored.body).toMatchObject({ revision: 3, title: 'Delvis suspension af beskæftigelsesindsatsen', history: [] });
  await expect(system.env.client.workflow.getHandle(policyFanoutWorkflowId('lower', 2)).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);

  // A revision that leaves cases behind must say when the policy ends for them.
  const wide = pause('narrowed', { scope: { type: 'municipalities', municipalities: ['851', '860'] } });
  expect((await api('POST', '/api/v1/policy-changes', wide)).status).toBe(201);
  const narrowed = await api('POST', '/api/v1/policy-changes', { ...wide, revision: 2, scope: { type: 'municipalities', municipalities: ['851'] } });
  expect(narrowed.status).toBe(400);
  expect(narrowed.body.error.message).toBe(
    'revision 2 of narrowed no longer reaches Hjørring (860), which revision 1 reaches. Say when the policy ends for them: ' +
      'add endedFor: [{"scope":{"type":"municipalities","municipalities":["860"]},"effectiveTo":"YYYY-MM-DD"}] (the day is their last under the policy), or keep them in scope.',
  );
  expect(narrowed.body.error.details).toEqual([{ field: 'scope', problem: 'drops 1 municipality covered by revision 1: 860; end the policy for it with endedFor' }]);
  expect((await api('GET', '/api/v1/policy-changes/narrowed')).body).toMatchObject({ revision: 1, history: [] });
  await expect(system.env.client.workflow.getHandle(policyFanoutWorkflowId('narrowed', 2)).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  const ended = await api('POST', '/api/v1/policy-changes', {
    ...wide,
    revision: 2,
    scope: { type: 'municipalities', municipalities: ['851'] },
    endedFor: [{ scope: { type: 'municipalities', municipalities: ['860'] }, effectiveTo: today() }],
  });
  expect(ended.status).toBe(201);
  // Written with an empty endedFor and legal reference, the same revision again is the same revision.
  const plain = { ...pause('plain', { scope: { type: 'municipalities', municipalities: ['860'] } }), legalReference: '', endedFor: [] };
  expect((await api('POST', '/api/v1/policy-changes', plain)).status).toBe(201);
  expect((await api('POST', '/api/v1/policy-changes', plain)).status).toBe(200);
  const overlapping = await api('POST', '/api/v1/policy-changes', { ...wide, revision: 3, endedFor: [{ scope: { type: 'municipalities', municipalities: ['851'] }, effectiveTo: today() }] });
  expect(overlapping.body.error.details).toEqual([{ field: 'endedFor.0.scope', problem: 'overlaps the scope or an earlier endedFor entry: 851' }]);
  const before = await api('POST', '/api/v1/policy-changes', {
    ...wide,
    revision: 3,
    scope: { type: 'municipalities', municipalities: ['851'] },
    endedFor: [{ scope: { type: 'municipalities', municipalities: ['860'] }, effectiveTo: addDays(today(), -6) }],
  });
  expect(before.body.error.details).toEqual([{ field: 'endedFor.0.effectiveTo', problem: "effectiveTo is before the revision's effectiveFrom" }]);

  // endedFor ends a policy only where an earlier revision reached: a first revision has nothing to end, and a
  // later one may not end it where no earlier scope reached (the cases there would get a pause they never had).
  const endsFirst = await api('POST', '/api/v1/policy-changes', pause('ends-first', { endedFor: [{ scope: { type: 'municipalities', municipalities: ['147'] }, effectiveTo: today() }] }));
  expect(endsFirst.status).toBe(400);
  expect(endsFirst.body.error).toEqual({
    code: 'invalid-request',
    message:
      'revision 1 of ends-first ends the policy for Frederiksberg (147), but ends-first has no earlier revision: ' +
      'endedFor only ends the policy where an earlier revision was in force. To bring the policy there, put it in scope.',
    details: [{ field: 'endedFor.0.scope', problem: 'names Frederiksberg (147), which no earlier revision of ends-first reaches; endedFor only ends the policy where it was in force' }],
  });
  expect((await api('GET', '/api/v1/policy-changes/ends-first')).status).toBe(404);
  await expect(system.env.client.workflow.getHandle(policyFanoutWorkflowId('ends-first', 1)).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);

  expect((await api('POST', '/api/v1/policy-changes', pause('ends-wider'))).status).toBe(201);
  const widened = await api('POST', '/api/v1/policy-changes', pause('ends-wider', { revision: 2, endedFor: [{ scope: { type: 'municipalities', municipalities: ['147'] }, effectiveTo: today() }] }));
  expect(widened.status).toBe(400);
  expect(widened.body.error.message).toBe(
    'revision 2 of ends-wider ends the policy for Frederiksberg (147), but no earlier revision of ends-wider reaches it: ' +
      'endedFor only ends the policy where an earlier revision was in force. To bring the policy there, put it in scope.',
  );
  expect(widened.body.error.details).toEqual([
    { field: 'endedFor.0.scope', problem: 'names Frederiksberg (147), which no earlier revision of ends-wider reaches; endedFor only ends the policy where it was in force' },
  ]);
  expect((await api('GET', '/api/v1/policy-changes/ends-wider')).body).toMatchObject({ revision: 1, history: [] });
  const storedRows = async (table: 'policy_revisions' | 'policy_fanouts') =>
    (await system.db.query<{ revision: number }>(`SELECT revision FROM ${table} WHERE policy_id = $1 ORDER BY revision`, ['ends-wider'])).map((r) => r.revision);
  expect([await storedRows('policy_revisions'), await storedRows('policy_fanouts')]).toEqual([[1], [1]]);
  await expect(system.env.client.workflow.getHandle(policyFanoutWorkflowId('ends-wider', 2)).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
});

test('a case started during a suspension is suspended from its first day', async () => {
  await api('POST', '/api/v1/policy-changes', pause('suspension-b', { scope: { type: 'municipalities', municipalities: ['147'] } }));
  await settled('suspension-b', 1, 0);
  const caseId = `LATE-${Date.now().toString(36)}`;
  const res = await api('POST', '/api/v1/cases', { caseId, citizenRef: 'REF-L', municipality: '147', firstAbsenceDay: today() });
  expect(res.status).toBe(201);
  expect(deadline(res.body, 'first-conversation')).toMatchObject({ status: 'paused', dueDate: null });
  expect(res.body.policies.map((p: any) => p.policyId)).toEqual(['suspension-b']);
  await eventually(
    () => system.db.query(`SELECT 1 FROM case_policies WHERE case_id = $1 AND policy_id = 'suspension-b'`, [caseId]),
    (rows) => rows.length === 1,
    'read model of the inherited policy',
  );
});

test("a case started from another API instance's copy of the registry, older than a finished fan-out, asks the registry and applies the revision once", async () => {
  // A second API instance, as behind a load balancer, whose copy of the registry for new cases is an hour old.
  const other = await anotherApi({ registryCopyMaxAgeMs: 3_600_000 });
  const openThroughOther = async (caseId: string) =>
    other.call('POST', '/api/v1/cases', { caseId, citizenRef: `REF-${caseId}`, municipality: '185', firstAbsenceDay: today() }, 'case-system');
  try {
    const stamp = Date.now().toString(36);
    expect((await openThroughOther(`COPY-A-${stamp}`)).status).toBe(201);
    await api('POST', '/api/v1/policy-changes', pause('suspension-copy', { scope: { type: 'municipalities', municipalities: ['185'] } }));
    // The fan-out has finished (its last count found no case lacking it) before the next case starts.
    const view = await settled('suspension-copy', 1, 1);
    // COPY-A got it from the fan-out or, if its first task ran after the publication, from the registry.
    expect(view.body.fanouts[0]).toMatchObject({ status: 'completed', missing: 0 });
    const late = await openThroughOther(`COPY-B-${stamp}`);
    expect(late.status).toBe(201);
    expect(late.body.policies).toEqual([]); // answered from the copy older than the publication

    const c = await eventually(() => caseOf(`COPY-B-${stamp}`), (x) => x.policies.length === 1, 'the late case has the revision');
    expect(c.policies).toEqual([expect.objectContaining({ policyId: 'suspension-copy', revision: 1 })]);
    expect(deadline(c, 'first-conversation')).toMatchObject({ status: 'paused', dueDate: null });
    // Sent it once more, as a re-send would, it does not apply it again: its counter is one for its first
    // timeline and one for the revision it got from the registry.
    const policy = pause('suspension-copy', { scope: { type: 'municipalities', municipalities: ['185'] } });
    expect(await sendAgain([`COPY-B-${stamp}`], policy)).toEqual([false]);
    expect(await counters([`COPY-B-${stamp}`])).toEqual([2]);
    const rows = await eventually(
      () => system.db.query(`SELECT policy_id, revision FROM case_policies WHERE case_id = $1`, [`COPY-B-${stamp}`]),
      (r) => r.length > 0,
      'read model',
    );
    expect(rows).toEqual([{ policy_id: 'suspension-copy', revision: 1 }]);
    const verified = await eventually(() => api('GET', '/api/v1/ops/verify'), (r) => r.body.policies.find((p: any) => p.policyId === 'suspension-copy')?.missing === 0, 'verify');
    expect(verified.body.policies.find((p: any) => p.policyId === 'suspension-copy')).toEqual({ policyId: 'suspension-copy', revision: 1, missing: 0, sample: [] });
  } finally {
    await other.close();
  }
});

test('a regional scope touches only its region', async () => {
  const [aarhus] = await openCases(1, { municipality: '751' });
  const [odense] = await openCases(1, { municipality: '461' });
  const policy: PolicyRevision = {
    policyId: 'remote-midtjylland',
    revision: 1,
    title: 'Samtaler pr. telefon i Midtjylland',
    effectiveFrom: addDays(today(), -1),
    effectiveTo: null,
    scope: { type: 'regions', regions: ['Midtjylland'] },
    effects: [{ type: 'switchConversationMode', mode: 'phone' }],
  };
  expect((await api('POST', '/api/v1/policy-changes', policy)).status).toBe(201);
  const view = await settled('remote-midtjylland', 1, 1);
  expect(view.body.applied).toBe(1);
  expect(view.body.fanouts[0]).toMatchObject({ matched: 1, lateStarters: 0, signalled: 1, missing: 0 });
  expect(await caseOf(aarhus!)).toMatchObject({ conversationMode: 'phone', policies: [expect.objectContaining({ policyId: 'remote-midtjylland' })] });
  expect(await caseOf(odense!)).toMatchObject({ conversationMode: 'in-person', policies: [] });
  const found = await eventually(
    async () => {
      const ids: string[] = [];
      for await (const wf of system.env.client.workflow.list({ query: `PolicyIds = 'remote-midtjylland'` })) ids.push(wf.workflowId);
      return ids;
    },
    (ids) => ids.length === 1,
    'PolicyIds search attribute',
  );
  expect(found).toEqual([caseWorkflowId(aarhus!)]);
});

test('re-sending through the ops CLI shows progress and applies nothing twice', async () => {
  const ids = await openCases(2, { municipality: '173' });
  const opened = await counters(ids);
  const policy = pause('suspension-c', { scope: { type: 'municipalities', municipalities: ['173'] } });
  await api('POST', '/api/v1/policy-changes', policy);
  const before = await settled('suspension-c', 1, 2);
  expect(before.body.applied).toBe(2);
  expect(await counters(ids)).toEqual(opened.map((n) => n + 1));
  // A delivery repeated, as a fan-out page retried after a lost answer would repeat it: not applied again.
  expect(await sendAgain(ids, policy)).toEqual([false, false]);

  const { stdout } = await promisify(execFile)(process.execPath, [path.join(root, 'dist', 'cli', 'ops.js'), 'policy', 'resend', 'suspension-c', '--api', system.base, '--key', system.keys.ops]);
  expect(stdout).toContain(`Re-sending suspension-c rev. 1 (${policyFanoutWorkflowId('suspension-c', 1, 1)})`);
  // Both cases have it, so the re-send finds none lacking it and signals nobody.
  expect(stdout).toContain('Done (completed): 0 cases lacked it, 0 more found by later passes, 0 signals, 0 closed meanwhile; 2 cases carry the revision.');

  // Sent twice (fan-out, repeat) and re-sent (to no one: both had it), each case applied it once.
  expect(await counters(ids)).toEqual(opened.map((n) => n + 1));
  const after = await api('GET', '/api/v1/policy-changes/suspension-c');
  expect(after.body.applied).toBe(2);
  expect(after.body.fanouts.map((f: any) => f.kind).sort()).toEqual(['publish', 'resend']);
  const listed = await api('GET', '/api/v1/policy-changes');
  expect(listed.body.policies.find((p: any) => p.policyId === 'suspension-c')).toMatchObject({ revision: 1, applied: 2 });
});

test('while Temporal does not answer, a first publication, a new revision and a re-send each answer 202 with the fan-out pending; once it answers they start, and each case applies each revision once', async () => {
  const scope: PolicyScope = { type: 'municipalities', municipalities: ['165'] };
  const ids = await openCases(2, { municipality: '165' });
  const existing = pause('down-revised', { scope });
  expect((await api('POST', '/api/v1/policy-changes', existing)).status).toBe(201);
  await settled('down-revised', 1, 2);
  const before = await counters(ids);

  // An API instance whose Temporal does not answer: nothing listens at its address (it gives up after two tries).
  const closed = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
  const unanswered = new Client({
    connection: Connection.lazy({ address: `127.0.0.1:${closed}`, interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 2 }))] }),
    namespace: 'default',
  });
  const down = await anotherApi({ client: unanswered });
  const first = pause('down-first', { scope });
  const revised = pause('down-revised', { scope, revision: 2, effectiveTo: today() });
  const fanouts = (body: any) => body.fanouts.map((f: any) => [f.workflowId, f.kind, f.status]).sort();
  try {
    const published = await down.call('POST', '/api/v1/policy-changes', first);
    expect(published.status).toBe(202);
    expect(fanouts(published.body)).toEqual([[policyFanoutWorkflowId('down-first', 1), 'publish', 'pending']]);

    const republished = await down.call('POST', '/api/v1/policy-changes', revised);
    expect(republished.status).toBe(202);
    expect(republished.body).toMatchObject({ revision: 2, history: [expect.objectContaining({ revision: 1 })] });
    expect(fanouts(republished.body)).toEqual([[policyFanoutWorkflowId('down-revised', 2), 'publish', 'pending']]);

    // The same requests again (a caller retrying) store nothing new and still cannot start the fan-outs: 202.
    for (const [policy, workflowId] of [[first, policyFanoutWorkflowId('down-first', 1)], [revised, policyFanoutWorkflowId('down-revised', 2)]] as const) {
      const repeated = await down.call('POST', '/api/v1/policy-changes', policy);
      expect(repeated.status).toBe(202);
      expect(fanouts(repeated.body)).toEqual([[workflowId, 'publish', 'pending']]);
    }

    const resent = await down.call('POST', '/api/v1/policy-changes/down-revised/resend');
    expect(resent.status).toBe(202);
    expect(resent.body.fanoutWorkflowId).toBe(policyFanoutWorkflowId('down-revised', 2, 1));
    expect(fanouts(resent.body)).toEqual([
      [policyFanoutWorkflowId('down-revised', 2), 'publish', 'pending'],
      [policyFanoutWorkflowId('down-revised', 2, 1), 'resend', 'pending'],
    ]);
  } finally {
    await down.close();
    await unanswered.connection.close();
  }
  for (const workflowId of [policyFanoutWorkflowId('down-first', 1), policyFanoutWorkflowId('down-revised', 2), policyFanoutWorkflowId('down-revised', 2, 1)]) {
    await expect(system.env.client.workflow.getHandle(workflowId).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  }

  // Temporal answers the first API: the same requests again answer 200 and start what is pending, the re-send too.
  expect((await api('POST', '/api/v1/policy-changes', first)).status).toBe(200);
  expect((await api('POST', '/api/v1/policy-changes', revised)).status).toBe(200);
  for (const policyId of ['down-first', 'down-revised']) {
    await eventually(() => api('GET', `/api/v1/policy-changes/${policyId}`), (res) => res.body.fanouts.every((f: any) => f.status === 'completed'), `fan-outs of ${policyId}`);
  }
  for (const caseId of ids) {
    const c = await eventually(() => caseOf(caseId), (x) => x.policies.length === 3, 'both revisions applied');
    expect(c.policies.map((p: any) => `${p.policyId}#${p.revision}`).sort()).toEqual(['down-first#1', 'down-revised#1', 'down-revised#2']);
  }
  // Revision 2 went out twice (its publication's fan-out and the re-send): one more revision of each policy, once each.
  expect(await counters(ids)).toEqual(before.map((n) => n + 2));
});

test('a fan-out page that lists a run which has since ended signals the case as it is now: its new run, or counts it as closed', async () => {
  const stamp = Date.now().toString(36);
  const start = async (caseId: string) =>
    system.env.client.workflow.start('caseWorkflow', {
      workflowId: caseWorkflowId(caseId),
      taskQueue: system.taskQueue,
      args: [{ facts: { caseId, citizenRef: `REF-${caseId}`, municipality: '101', firstAbsenceDay: addDays(today(), -10), employment: 'employee' }, policies: [], maxHistoryEvents: 30 }],
    });
  const report = (handle: Awaited<ReturnType<typeof start>>, event: Record<string, unknown>) =>
    handle.executeUpdate(reportEventUpdate, { args: [{ eventId: `${event.type}-${++n}`, occurredOn: today(), ...event } as CaseEvent] });

  // One case continues as new after it was listed, another closes.
  const moving = await start(`CAN-${stamp}`);
  const closing = await start(`END-${stamp}`);
  for (let i = 0; i < 12 && (await moving.describe()).runId === moving.firstExecutionRunId; i++) {
    await report(moving, { type: i % 2 ? 'certificate-received' : 'certificate-requested' });
  }
  // The run continues as new once its last snapshot is written.
  await eventually(async () => (await moving.describe()).runId, (runId) => runId !== moving.firstExecutionRunId, 'continued as new');
  await report(closing, { type: 'recovered' });
  await closing.result();

  const policy = pause(`moved-${stamp}`);
  // What the fan-out's page does with what it listed: both listed runs have ended since.
  const listed = [
    { workflowId: moving.workflowId, runId: moving.firstExecutionRunId },
    { workflowId: closing.workflowId, runId: closing.firstExecutionRunId },
  ];
  const result = await signalCases(system.env.client, policy, listed, { signalsPerSecond: 100, concurrency: 2 });
  expect(result).toEqual({ signalled: 1, failed: 1, unsent: 0 });
  const applied = await eventually(
    () => system.db.query<{ case_id: string }>(`SELECT case_id FROM case_policies WHERE policy_id = $1`, [policy.policyId]),
    (rows) => rows.length > 0,
    'the new run applied the policy',
  );
  expect(applied.map((r) => r.case_id)).toEqual([`CAN-${stamp}`]);
});

test('a fan-out with a window keeps at most its limit of cases signalled and not yet applied, and a read model that cannot answer only slows it', async () => {
  const ids = await openCases(16, { municipality: '157' });
  const listed = await Promise.all(ids.map(async (id) => ({ workflowId: caseWorkflowId(id), runId: (await system.env.client.workflow.getHandle(caseWorkflowId(id)).describe()).runId })));
  const registry = createPolicyRegistry(system.db);
  const appliedRows = async (policyId: string) =>
    Number((await system.db.query<{ n: string }>(`SELECT count(*) AS n FROM case_policies WHERE policy_id = $1`, [policyId]))[0]!.n);
  const in157 = (policyId: string) => pause(policyId, { scope: { type: 'municipalities', municipalities: ['157'] } });

  // With the read model's answers: every case gets it. The window never asks about more than 3 signalled cases,
  // and a sampler from outside never sees more than 3 signalled that case_policies does not show.
  const policy = in157(`window-${Date.now().toString(36)}`);
  const readModel = readModelWindow(registry, policy, 3);
  let widestAsked = 0;
  let signalled = 0;
  let widestSeen = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const settledSignals = signalled;
      widestSeen = Math.max(widestSeen, settledSignals - (await appliedRows(policy.policyId)));
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const result = await signalCases(system.env.client, policy, listed, {
    signalsPerSecond: 1_000,
    concurrency: 16,
    window: {
      ...readModel,
      applied: (workflowIds) => {
        widestAsked = Math.max(widestAsked, workflowIds.length);
        return readModel.applied(workflowIds);
      },
    },
    onSettled: () => signalled++,
  });
  sampling = false;
  await sampler;
  expect(result).toEqual({ signalled: 16, failed: 0, unsent: 0 });
  // signalCases returns once its own cases have applied it (the next page starts from an empty window).
  expect(await appliedRows(policy.policyId)).toBe(16);
  expect(widestAsked).toBe(3);
  expect(widestSeen).toBeGreaterThan(0);
  expect(widestSeen).toBeLessThanOrEqual(3);

  // A read model that cannot answer (Postgres down): places expire a second after their signal, so the cases
  // are still all signalled, 4 at a time, and the window says it is not confirming.
  const silent = in157(`silent-${Date.now().toString(36)}`);
  const sentAt: number[] = [];
  const degraded = { expired: 0, unanswered: 0 };
  const began = Date.now();
  const quiet = await signalCases(system.env.client, silent, listed.slice(0, 8), {
    signalsPerSecond: 1_000,
    concurrency: 8,
    window: {
      limit: 4,
      applied: () => Promise.reject(new Error('connection refused')),
      expireMs: 1_000,
      pollMs: 20,
      onDegraded: (what) => ('expired' in what ? (degraded.expired += what.expired) : degraded.unanswered++),
    },
    onSettled: () => sentAt.push(Date.now() - began),
  });
  expect(quiet).toEqual({ signalled: 8, failed: 0, unsent: 0 });
  sentAt.sort((a, b) => a - b);
  expect(sentAt[4]! - sentAt[0]!).toBeGreaterThanOrEqual(990);
  expect(sentAt[3]! - sentAt[0]!).toBeLessThan(990);
  expect(degraded.expired).toBe(8);
  expect(degraded.unanswered).toBeGreaterThan(0);
  await eventually(() => appliedRows(silent.policyId), (count) => count === 8, 'the silently signalled cases applied it');

  // A page whose time budget runs out while its window is full leaves the rest unsent, for the next pass.
  const budgeted = in157(`budget-${Date.now().toString(36)}`);
  const partial = await signalCases(system.env.client, budgeted, listed.slice(0, 8), {
    signalsPerSecond: 1_000,
    concurrency: 8,
    window: { limit: 2, applied: async () => [], expireMs: 1_500, pollMs: 20 },
    budgetMs: 300,
  });
  expect(partial).toEqual({ signalled: 2, failed: 0, unsent: 6 });
  await eventually(() => appliedRows(budgeted.policyId), (count) => count === 2, 'the two signalled cases applied it');
});

test('the first error in a page stops every sender: a retry never signals beside the attempt it replaces', async () => {
  const ids = await openCases(12, { municipality: '159' });
  const policy = pause(`stops-${Date.now().toString(36)}`, { scope: { type: 'municipalities', municipalities: ['159'] } });
  // A run id the server refuses (not a UUID): an error that is not "not found", so the page fails.
  const listed = [{ workflowId: caseWorkflowId(ids[0]!), runId: 'not-a-run-id' }, ...ids.slice(1).map((id) => ({ workflowId: caseWorkflowId(id), runId: '' }))];
  let settled = 0;
  await expect(signalCases(system.env.client, policy, listed, { signalsPerSecond: 5, concurrency: 4, onSettled: () => settled++ })).rejects.toThrow();
  await new Promise((r) => setTimeout(r, 2_500));
  // At 5 a second, senders that went on would have signalled the other 11 by now; the three waiting for their
  // turn when the first failed stop there (one whose signal was already on its way may still land).
  expect(settled).toBeLessThanOrEqual(1);
});
