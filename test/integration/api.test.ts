import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { WorkflowNotFoundError } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { addDays, copenhagenDate } from '../../workflows/domain/dates';
import { caseWorkflowId } from '../../workflows/messages';
import { testKeyring, toolPaths } from '../support/servers';
import { EncryptionCodec } from '../../platform/payload-codec';
import { eventually, startSystem, type TestSystem } from '../support/system';

/**
 * The API over HTTP against the real Temporal dev server (with visibility), a real worker and a real
 * Postgres, each started here on free ports.
 */
let system: TestSystem;

beforeAll(async () => {
  system = await startSystem({ taskQueue: 'api-integration' });
});

afterAll(async () => {
  await system?.stop();
});

const api = (method: string, path: string, body?: unknown) => system.api(method, path, body);

const listIds = async (query: string) => {
  const ids: string[] = [];
  for await (const wf of system.env.client.workflow.list({ query })) ids.push(wf.workflowId);
  return ids.sort();
};

const today = () => copenhagenDate(Date.now());
let n = 0;
const newCase = (overrides: Record<string, unknown> = {}) => ({
  caseId: `IT-${Date.now().toString(36)}-${++n}`,
  citizenRef: `REF-${n}`,
  municipality: '101',
  firstAbsenceDay: today(),
  employment: 'employee',
  ...overrides,
});

test('/healthz answers while the process is up; /readyz checks Temporal and Postgres', async () => {
  expect(await api('GET', '/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
  expect(await api('GET', '/readyz')).toEqual({
    status: 200,
    body: { status: 'ready', checks: { temporal: { ok: true }, postgres: { ok: true } } },
  });
});

test('starting a case answers 201 with its timeline; the same body again 200; another body 409', async () => {
  const body = newCase();
  const created = await api('POST', '/api/v1/cases', body);
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({
    caseId: body.caseId,
    municipality: '101',
    firstAbsenceDay: body.firstAbsenceDay,
    status: 'open',
    category: null,
    conversationMode: 'in-person',
    policies: [],
    workflowId: caseWorkflowId(body.caseId),
    temporalUiUrl: `http://localhost:8233/namespaces/default/workflows/${caseWorkflowId(body.caseId)}`,
  });
  expect(created.body.deadlines.find((d: any) => d.kind === 'first-conversation')).toMatchObject({
    dueDate: addDays(body.firstAbsenceDay, 55),
    status: 'pending',
  });
  expect(JSON.stringify(created.body)).not.toContain(body.citizenRef);

  const again = await api('POST', '/api/v1/cases', body);
  expect(again.status).toBe(200);
  expect(again.body.deadlines).toEqual(created.body.deadlines);

  const conflict = await api('POST', '/api/v1/cases', { ...body, municipality: '147' });
  expect(conflict).toEqual({
    status: 409,
    body: { error: { code: 'case-exists', message: `Case ${body.caseId} already exists with different data`, details: { fields: ['municipality'] } } },
  });

  const read = await api('GET', `/api/v1/cases/${body.caseId}`);
  expect(read.status).toBe(200);
  expect(read.body.deadlines).toEqual(created.body.deadlines);
  expect((await api('GET', '/api/v1/cases/NO-SUCH-CASE')).status).toBe(404);
});

test('the case is found by its search attributes, through the client and through the Temporal CLI', async () => {
  const body = newCase({ municipality: '751' });
  await api('POST', '/api/v1/cases', body);
  const query = `CaseId='${body.caseId}' AND Municipality='751' AND CaseStatus='open' AND NextDeadlineKind='first-conversation'`;
  await eventually(() => listIds(query), (ids) => ids.length === 1, 'visibility listing');
  const { stdout } = await promisify(execFile)(toolPaths().cli, [
    'workflow', 'list', '--address', system.address, '--namespace', 'default', '--query', `CaseId='${body.caseId}'`, '--output', 'json',
  ]);
  const listed = JSON.parse(stdout) as { execution: { workflowId: string } }[];
  expect(listed.map((w) => w.execution.workflowId)).toEqual([caseWorkflowId(body.caseId)]);
});

test('bad input answers 400 naming each field, and starts nothing', async () => {
  const cpr = await api('POST', '/api/v1/cases', { caseId: '010170-1234', citizenRef: '0101701234', municipality: '101', firstAbsenceDay: '2020-02-03' });
  expect(cpr.status).toBe(400);
  expect(cpr.body.error.code).toBe('cpr-number-refused');
  expect(cpr.body.error.details.map((d: any) => d.field)).toEqual(['caseId', 'citizenRef']);
  expect(JSON.stringify(system.logLines)).not.toContain('010170');
  await expect(system.env.client.workflow.getHandle(caseWorkflowId('010170-1234')).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);

  const bad = { caseId: 'BAD-1', citizenRef: 'REF-X', municipality: '999', firstAbsenceDay: '2020-02-30', employment: 'retired' };
  const res = await api('POST', '/api/v1/cases', bad);
  expect(res.status).toBe(400);
  expect(res.body.error.code).toBe('invalid-request');
  expect(res.body.error.details.map((d: any) => d.field)).toEqual(['municipality', 'firstAbsenceDay', 'employment']);
  await expect(system.env.client.workflow.getHandle(caseWorkflowId(bad.caseId)).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);

  const missing = await api('POST', '/api/v1/cases', { municipality: '101' });
  expect(missing.body.error.details).toEqual([
    { field: 'caseId', problem: 'is required' },
    { field: 'citizenRef', problem: 'is required' },
    { field: 'firstAbsenceDay', problem: 'is required' },
  ]);
  expect(await api('POST', '/api/v1/cases', '{not json')).toEqual({
    status: 400,
    body: { error: { code: 'invalid-json', message: 'The request body is not valid JSON', details: null } },
  });
});

test('events: applied, repeated (no-op), refused with a reason, unknown case, closed case', async () => {
  const body = newCase({ firstAbsenceDay: addDays(today(), -20) });
  await api('POST', '/api/v1/cases', body);
  const path = `/api/v1/cases/${body.caseId}/events`;

  const held = { eventId: 'conv-1', type: 'conversation-held', occurredOn: addDays(today(), -1), mode: 'video', category: 2 };
  const first = await api('POST', path, held);
  expect(first.status).toBe(200);
  expect(first.body.applied).toBe(true);
  expect(first.body.category).toBe(2);
  expect(first.body.deadlines.find((d: any) => d.id === 'first-conversation')).toMatchObject({ status: 'met', mode: 'video' });
  expect(first.body.deadlines.find((d: any) => d.id === 'follow-up-conversation-1')).toMatchObject({ dueDate: addDays(today(), 27) });

  const repeat = await api('POST', path, held);
  expect(repeat.status).toBe(200);
  expect(repeat.body.applied).toBe(false);
  expect(repeat.body.deadlines).toEqual(first.body.deadlines);

  const future = await api('POST', path, { eventId: 'f-1', type: 'recovered', occurredOn: addDays(today(), 3) });
  expect(future.status).toBe(400);
  expect(future.body.error).toMatchObject({ code: 'event-rejected', message: `occurredOn ${addDays(today(), 3)} is in the future (today is ${today()} in Copenhagen)` });
  const shape = await api('POST', path, { eventId: 'x', type: 'categorized', occurredOn: today(), category: 4 });
  expect(shape.status).toBe(400);
  expect(shape.body.error.details).toEqual([{ field: 'category', problem: 'must be 1, 2 or 3' }]);
  expect((await api('GET', `/api/v1/cases/${body.caseId}`)).body.deadlines).toEqual(first.body.deadlines);

  expect((await api('POST', '/api/v1/cases/NO-SUCH-CASE/events', { eventId: 'e', type: 'recovered', occurredOn: today() })).status).toBe(404);

  const recovered = await api('POST', path, { eventId: 'end', type: 'recovered', occurredOn: today() });
  expect(recovered.body).toMatchObject({ status: 'closed', closedReason: 'recovered', closedOn: today() });
  await system.env.client.workflow.getHandle(caseWorkflowId(body.caseId)).result();
  const late = await api('POST', path, { eventId: 'after', type: 'certificate-received', occurredOn: today() });
  expect(late.status).toBe(409);
  expect(late.body.error.code).toBe('case-closed');
});

test('a caseworker filters overdue cases of a municipality; the UI shows summaries and details', async () => {
  const overdue = newCase({ municipality: '147', firstAbsenceDay: addDays(today(), -70) });
  const fresh = newCase({ municipality: '147' });
  await api('POST', '/api/v1/cases', overdue);
  await api('POST', '/api/v1/cases', fresh);
  const ids = await eventually(
    () => listIds(`Overdue = true AND Municipality = '147'`),
    (found) => found.includes(caseWorkflowId(overdue.caseId)),
    'overdue filter',
  );
  expect(ids).toContain(caseWorkflowId(overdue.caseId));
  expect(ids).not.toContain(caseWorkflowId(fresh.caseId));

  const handle = system.env.client.workflow.getHandle(caseWorkflowId(fresh.caseId));
  const description = await handle.describe();
  expect(await description.staticSummary()).toBe(`Sygedagpengesag ${fresh.caseId} · Frederiksberg (147) · første fraværsdag ${fresh.firstAbsenceDay}`);
  const history = await handle.fetchHistory();
  const timer = history.events?.find((e) => e.timerStartedEventAttributes);
  // Stored encrypted (the store holds ciphertext); the engine's codec reads it.
  const stored = timer!.userMetadata!.summary!;
  expect(Buffer.from(stored.metadata!.encoding!).toString()).toBe('binary/encrypted');
  expect(Buffer.from(stored.data!).toString('latin1')).not.toContain('opfølgningssamtale');
  const [plain] = await new EncryptionCodec(testKeyring().keyring).decode([stored]);
  const summary = defaultPayloadConverter.fromPayload(plain!);
  const due = addDays(fresh.firstAbsenceDay, 55);
  expect(summary).toBe(`Første opfølgningssamtale senest ${due} · overskredet fra ${addDays(due, 1)}, hvis ikke opfyldt`);
  const metadata = await handle.query<{ currentDetails: string }>('__temporal_workflow_metadata');
  const page = `http://localhost:3000/caseworker/cases/${fresh.caseId}`;
  expect(metadata.currentDetails).toContain(`**Sag ${fresh.caseId.replace(/-/g, '\\-')}** · Frederiksberg (147)`);
  expect(metadata.currentDetails.split('\n')).toContain(`- **Første opfølgningssamtale** · afventer · senest ${due} · personligt fremmøde`);
  expect(metadata.currentDetails).toContain(`[Tidslinje og alle frister](${page})`);
  expect(await description.staticDetails()).toContain(`- [Tidslinje og alle frister](${page})`);
  expect(metadata.currentDetails).not.toContain(fresh.citizenRef);
  expect(await description.staticDetails()).not.toContain(fresh.citizenRef);
});

test("a case's timeline picture and its caseworker page, behind the case-read keys", async () => {
  const body = newCase({ municipality: '461', firstAbsenceDay: addDays(today(), -70) });
  const started = await api('POST', '/api/v1/cases', body);
  expect(started.body.caseworkerPageUrl).toBe(`http://localhost:3000/caseworker/cases/${body.caseId}`);
  await eventually(() => api('GET', `/api/v1/cases/${body.caseId}`), (r) => r.status === 200, 'case readable');
  const get = (path: string, headers: Record<string, string>) => fetch(`${system.base}${path}`, { headers });
  const bearer = (role: 'case-system' | 'reader' | 'ops') => ({ authorization: `Bearer ${system.keys[role]}` });
  const basic = (key: string) => ({ authorization: `Basic ${Buffer.from(`sagsbehandler:${key}`).toString('base64')}` });

  const svg = await get(`/api/v1/cases/${body.caseId}/timeline.svg`, bearer('reader'));
  expect(svg.status).toBe(200);
  expect(svg.headers.get('content-type')).toBe('image/svg+xml; charset=utf-8');
  expect(svg.headers.get('content-security-policy')).toContain("default-src 'none'");
  const picture = await svg.text();
  expect(picture).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  expect(picture).toContain(`<g class="deadline" data-id="first-conversation" data-status="missed" data-due="${addDays(body.firstAbsenceDay, 55)}"`);
  expect(picture).toContain(`<g class="today" data-date="${today()}">`);
  expect(picture).not.toContain(body.citizenRef);
  expect((await get(`/api/v1/cases/${body.caseId}/timeline.svg`, bearer('case-system'))).status).toBe(200);
  expect((await get(`/api/v1/cases/${body.caseId}/timeline.svg`, bearer('ops'))).status).toBe(403);
  const unknown = await get('/api/v1/cases/NO-SUCH-CASE/timeline.svg', bearer('reader'));
  expect([unknown.status, ((await unknown.json()) as any).error.code]).toEqual([404, 'case-not-found']);

  // The browser asks for the key (HTTP Basic) when the page answers 401; the key is the password.
  const page = `/caseworker/cases/${body.caseId}`;
  const asked = await get(page, {});
  expect(asked.status).toBe(401);
  expect(asked.headers.get('www-authenticate')).toMatch(/^Basic realm="/);
  expect((await get(page, basic('not-a-key-not-a-key'))).status).toBe(401);
  expect((await get(page, basic(system.keys.ops))).status).toBe(403);
  const html = await get(page, basic(system.keys.reader));
  expect(html.status).toBe(200);
  expect(html.headers.get('content-type')).toBe('text/html; charset=utf-8');
  const text = await html.text();
  expect(text).toContain(`<h1>Sag ${body.caseId} · Odense (461)</h1>`);
  expect(text).toContain('<tr class="deadline" data-id="first-conversation" data-status="missed">');
  expect(text).toContain('<svg xmlns="http://www.w3.org/2000/svg"');
  expect(text).not.toContain(body.citizenRef);
  expect((await get(page, bearer('case-system'))).status).toBe(200);
  expect((await get('/caseworker/cases/NO-SUCH-CASE', basic(system.keys.reader))).status).toBe(404);
});

test('every change of a case reaches the Postgres read model, newest revision only', async () => {
  const body = newCase({ municipality: '461' });
  await api('POST', '/api/v1/cases', body);
  await api('POST', `/api/v1/cases/${body.caseId}/events`, { eventId: 'cat', type: 'categorized', occurredOn: today(), category: 3 });
  const rows = await eventually(
    () => system.db.query<{ status: string; category: number; municipality: string; revision: number }>('SELECT status, category, municipality, revision FROM cases WHERE case_id = $1', [body.caseId]),
    (r) => r[0]?.category === 3,
    'read model row',
  );
  expect(rows).toEqual([{ status: 'open', category: 3, municipality: '461', revision: 2 }]);
  expect(system.logLines.join('\n')).not.toContain(body.citizenRef);
});

test('the what-if endpoint runs the engine on the body and starts nothing', async () => {
  const res = await api('POST', '/api/v1/timeline/simulate', {
    facts: { caseId: 'WHAT-IF-1', citizenRef: 'REF-W', municipality: '101', firstAbsenceDay: '2020-02-03', employment: 'employee' },
    policies: [
      {
        policyId: 'suspension',
        revision: 1,
        title: 'Suspension',
        effectiveFrom: '2020-03-20',
        effectiveTo: '2020-05-26',
        scope: { type: 'all' },
        effects: [{ type: 'pauseDeadlines', kinds: ['first-conversation'] }],
      },
    ],
    asOf: '2020-06-01',
  });
  expect(res.status).toBe(200);
  expect(res.body.deadlines.find((d: any) => d.id === 'first-conversation')).toMatchObject({ dueDate: '2020-06-05', originalDueDate: '2020-03-29' });
  expect(res.body.reviewPoint).toBe('2020-08-31');
  await expect(system.env.client.workflow.getHandle(caseWorkflowId('WHAT-IF-1')).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);

  const rejected = await api('POST', '/api/v1/timeline/simulate', {
    facts: { caseId: 'WHAT-IF-2', citizenRef: 'REF-W', municipality: '101', firstAbsenceDay: '2020-02-03' },
    events: [{ eventId: 'a', type: 'recovered', occurredOn: '2020-01-01' }],
    asOf: '2020-06-01',
  });
  expect(rejected.status).toBe(400);
  expect(rejected.body.error.message).toBe('events.0: occurredOn 2020-01-01 is before the first day of absence 2020-02-03');
});

test('the what-if answer as a picture, with Accept: image/svg+xml', async () => {
  const res = await fetch(`${system.base}/api/v1/timeline/simulate`, {
    method: 'POST',
    headers: { authorization: `Bearer ${system.keys.reader}`, 'content-type': 'application/json', accept: 'image/svg+xml' },
    body: JSON.stringify({
      facts: { caseId: 'WHAT-IF-SVG', citizenRef: 'REF-SVG', municipality: '101', firstAbsenceDay: '2020-02-03' },
      policies: [{ policyId: 'suspension', revision: 1, title: 'Suspension', effectiveFrom: '2020-03-20', effectiveTo: '2020-05-26', scope: { type: 'all' }, effects: [{ type: 'pauseDeadlines', kinds: ['first-conversation'] }] }],
      asOf: '2020-06-01',
    }),
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('image/svg+xml; charset=utf-8');
  const svg = await res.text();
  expect(svg).toContain('<g class="deadline" data-id="first-conversation" data-status="pending" data-due="2020-06-05" data-original="2020-03-29">');
  expect(svg).toContain('<g class="policy-window" data-type="pause" data-policy="suspension" data-from="2020-03-20" data-to="2020-05-26">');
  expect(svg).not.toContain('REF-SVG');
});

test('/readyz answers 503 naming Postgres when it is down, and nothing of why (that goes to the log)', async () => {
  await system.pg.stop();
  const res = await api('GET', '/readyz');
  expect(res).toEqual({ status: 503, body: { status: 'not-ready', checks: { temporal: { ok: true }, postgres: { ok: false } } } });
});
