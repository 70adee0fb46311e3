import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Client } from '@temporalio/client';
import { type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { type Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { type ApiKey } from '../../platform/config';
import { createLogger } from '../../platform/logger';
import { ENCRYPTED_ENCODING, EncryptionCodec, KEY_ID_METADATA, type Keyring, newKeySpec, parseKeyring } from '../../platform/payload-codec';
import { caseDataConverter } from '../../platform/temporal';
import { createCaseWorker } from '../../worker/worker';
import { addDays, copenhagenDate } from '../../workflows/domain/dates';
import { CaseErrorType, caseWorkflowId, readModelSnapshotQuery, reportEventUpdate, timelineQuery } from '../../workflows/messages';
import { DEADLINE_KINDS } from '../../workflows/domain/types';
import { CASE_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { bundleCaseWorkflows, testKeyring, toolPaths } from '../support/servers';
import { eventually, startSystem, type TestSystem } from '../support/system';

/**
 * Issue #12: what Temporal stores is ciphertext; the codec server (api/codec-server.ts) gives it back in
 * clear to those with a key, for the Temporal UI and CLI; and keys rotate without touching stored histories.
 */
let system: TestSystem;
let worker: { worker: Worker; running: Promise<void> } | undefined;
const uiOrigin = 'http://localhost:8233';
const boundReader: ApiKey = { role: 'reader', key: 'codec-test-bound-reader-01', municipalities: ['101'] } as ApiKey;

/** A worker of this system holding `keyring` (tests redeploy it with a new ring). */
async function startWorker(keyring: Keyring) {
  const w = await createCaseWorker({
    connection: system.env.nativeConnection,
    namespace: 'default',
    taskQueue: system.taskQueue,
    workflowBundle: await bundleCaseWorkflows(),
    activities: createActivities({ db: system.db, logger: createLogger('error', {}, () => undefined), client: system.env.client }),
    keyring,
  });
  worker = { worker: w, running: w.run() };
}

async function stopWorker() {
  worker?.worker.shutdown();
  await worker?.running;
  worker = undefined;
}

beforeAll(async () => {
  system = await startSystem({ taskQueue: 'codec', extraApiKeys: [boundReader], inProcessWorker: false });
  await startWorker(testKeyring().keyring);
});

afterAll(async () => {
  await stopWorker();
  await system?.stop();
});

const today = () => copenhagenDate(Date.now());
const citizenRef = 'REF-CODEC-7Q2X';
const caseId = `CODEC-${Date.now().toString(36)}`;
const workflowId = caseWorkflowId(caseId);

/**
 * Every payload in a history with where it sits, apart from search attributes (plain by design) and what
 * the SDK's core writes itself into markers, past any codec: a patch's name, and a local activity's
 * bookkeeping (its type, attempt and times; its result is a payload of ours, encrypted).
 */
function payloadsOf(value: unknown, path = ''): { path: string; payload: Payload }[] {
  if (!value || typeof value !== 'object') return [];
  if (Array.isArray(value)) return value.flatMap((v, i) => payloadsOf(v, `${path}[${i}]`));
  const record = value as Record<string, unknown>;
  if (record.metadata && typeof record.metadata === 'object' && 'data' in record) return [{ path, payload: record as Payload }];
  return Object.entries(record)
    .filter(([key]) => key !== 'searchAttributes' && key !== 'patch-data' && !(key === 'data' && path.endsWith('markerRecordedEventAttributes.details')))
    .flatMap(([key, v]) => payloadsOf(v, path ? `${path}.${key}` : key));
}

/** What the core's markers hold in clear: patch names, and local activities' bookkeeping. */
function markersInClear(history: temporal.api.history.v1.IHistory, field: 'patch-data' | 'data'): string[] {
  return (history.events ?? []).flatMap((e) =>
    (e.markerRecordedEventAttributes?.details?.[field]?.payloads ?? []).map((p) => Buffer.from(p.data!).toString()),
  );
}

const rawHistory = async (client: Client) =>
  (await client.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId } })).history!;

/** The history without what names the case by design: its workflow id and its search attributes. */
const withoutIdentifiers = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(withoutIdentifiers)
    : value && typeof value === 'object' && !(value instanceof Uint8Array)
      ? Object.fromEntries(Object.entries(value).filter(([k]) => k !== 'searchAttributes' && k !== 'workflowId').map(([k, v]) => [k, withoutIdentifiers(v)]))
      : value;

const asJson = (payloads: Payload[]) => ({
  payloads: payloads.map((p) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  })),
});

const codec = (path: string, init: { body?: unknown; headers?: Record<string, string>; method?: string } = {}) =>
  fetch(`${system.base}/codec${path}`, {
    method: init.method ?? 'POST',
    headers: { 'content-type': 'application/json', ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

test('the store holds ciphertext: read without the codec, a history shows no citizen reference, fact or event, and the case id only in its workflow id and search attributes', async () => {
  const firstAbsenceDay = addDays(today(), -20);
  const started = await system.api('POST', '/api/v1/cases', { caseId, citizenRef, municipality: '101', firstAbsenceDay, employment: 'employee' });
  expect(started.status).toBe(201);
  for (const event of [
    { eventId: 'e1', type: 'information-form-received', occurredOn: addDays(firstAbsenceDay, 10) },
    { eventId: 'e2', type: 'categorized', category: 3, occurredOn: addDays(firstAbsenceDay, 12) },
    { eventId: 'e3', type: 'certificate-received', occurredOn: addDays(firstAbsenceDay, 14) },
  ]) {
    expect((await system.api('POST', `/api/v1/cases/${caseId}/events`, event)).status).toBe(200);
  }
  await eventually(() => system.db.query<{ n: number }>('SELECT revision AS n FROM cases WHERE case_id = $1', [caseId]), (r) => r.length === 1, 'read model row');

  const history = await rawHistory(system.env.client);
  const payloads = payloadsOf(history);
  // Inputs, updates and their results, activity inputs and results, timer summaries, details: all encrypted.
  expect(payloads.length).toBeGreaterThanOrEqual(15);
  for (const { path, payload } of payloads) {
    expect({ path, encoding: Buffer.from(payload.metadata!.encoding!).toString() }).toEqual({ path, encoding: ENCRYPTED_ENCODING });
    expect(Buffer.from(payload.metadata![KEY_ID_METADATA]!).toString()).toBe(testKeyring().keyring.currentKeyId);
  }
  const kinds = new Set(payloads.map((p) => p.path.replace(/\[\d+\]/g, '[]')));
  for (const where of ['events[].workflowExecutionStartedEventAttributes.input.payloads[]', 'events[].userMetadata.summary', 'events[].activityTaskScheduledEventAttributes.input.payloads[]']) {
    expect([...kinds].some((k) => k.startsWith(where))).toBe(true);
  }
  const patches = markersInClear(history, 'patch-data');
  expect(patches.length).toBeGreaterThan(0);
  for (const marker of patches) expect(marker).toMatch(/^\{"id":"[a-z-]+","deprecated":(true|false)\}$/);
  const localActivities = markersInClear(history, 'data');
  expect(localActivities.length).toBeGreaterThan(0);
  for (const marker of localActivities) expect(Object.keys(JSON.parse(marker) as object).sort()).toEqual(['activity_id', 'activity_type', 'attempt', 'backoff', 'complete_time', 'original_schedule_time', 'seq']);
  expect(payloads.some((p) => p.path.endsWith('markerRecordedEventAttributes.details.result.payloads[0]'))).toBe(true);
  // Everything but the workflow id and the search attributes, as bytes: none of the case's facts or events in clear.
  const bytes = Buffer.from(temporal.api.history.v1.History.encode(withoutIdentifiers(history) as temporal.api.history.v1.IHistory).finish()).toString('latin1');
  for (const secret of [citizenRef, caseId, 'categorized', 'certificate-received', 'information-form-received', 'opfølgningssamtale', firstAbsenceDay]) {
    expect({ secret, found: bytes.includes(secret) || bytes.includes(Buffer.from(secret).toString('latin1')) }).toEqual({ secret, found: false });
  }
  // By design the case id is in the workflow id and the CaseId search attribute (plain, how a case is found;
  // neither holds a CPR number, a name or a health detail).
  const whole = Buffer.from(temporal.api.history.v1.History.encode(history).finish()).toString('latin1');
  expect(whole.includes(caseId)).toBe(true);
  expect(whole.includes(citizenRef)).toBe(false);
});

test('search attributes stay plain by design, and none holds personal data: only codes, states, dates and policy ids', async () => {
  const description = await system.env.client.workflow.getHandle(workflowId).describe();
  const attributes = description.raw.workflowExecutionInfo!.searchAttributes!.indexedFields!;
  const values = Object.fromEntries(Object.entries(attributes).map(([name, p]) => [name, JSON.parse(Buffer.from(p.data!).toString()) as unknown]));
  // Ours, and Temporal's own (the patches a case went through, the worker builds that ran it).
  const ours = CASE_SEARCH_ATTRIBUTES.map((k) => k.name);
  expect(Object.keys(values).filter((n) => !ours.includes(n as (typeof ours)[number])).sort()).toEqual(['BuildIds', 'TemporalChangeVersion']);
  expect(ours.filter((n) => !(n in values))).toEqual([]);
  expect(values).toMatchObject({ CaseId: caseId, Municipality: '101', CaseStatus: 'open', Category: '3', ConversationMode: 'in-person', Overdue: false });
  expect(DEADLINE_KINDS).toContain(values.NextDeadlineKind);
  expect(String(values.NextDeadline)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/);
  const text = JSON.stringify(values);
  for (const personal of [citizenRef, 'certificate', 'ground']) expect(text).not.toContain(personal);
});

test('through the codec server the same history reads as before: input, events and summaries in clear', async () => {
  const payloads = payloadsOf(await rawHistory(system.env.client)).map((p) => p.payload);
  const res = await codec('/decode', { body: asJson(payloads), headers: { ...bearer(system.keys.reader), 'x-namespace': 'default' } });
  expect(res.status).toBe(200);
  const decoded = ((await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[] }).payloads;
  expect(decoded).toHaveLength(payloads.length);
  const texts = decoded.map((p) => Buffer.from(p.data, 'base64').toString('utf8'));
  expect(new Set(decoded.map((p) => Buffer.from(p.metadata.encoding!, 'base64').toString()))).toEqual(new Set(['json/plain', 'binary/null']));
  const all = texts.join('\n');
  expect(all).toContain(`"citizenRef":"${citizenRef}"`);
  expect(all).toContain('"type":"categorized","category":3');
  expect(all).toContain('Første opfølgningssamtale senest');

  // Encode and decode again: the round trip through the server gives the same values.
  const encoded = await codec('/encode', { body: { payloads: decoded.slice(0, 3) }, headers: bearer(system.keys['case-system']) });
  expect(encoded.status).toBe(200);
  const again = await codec('/decode', { body: await encoded.json(), headers: bearer(system.keys.reader) });
  expect(((await again.json()) as { payloads: unknown[] }).payloads).toEqual(decoded.slice(0, 3));
});

test('the Temporal CLI shows the history in clear only through the codec server, with a key', async () => {
  // The CLI prints each payload as JSON with its data in base64: what those data say, one per line.
  const cli = (...extra: string[]) =>
    promisify(execFile)(toolPaths().cli, ['workflow', 'show', '--workflow-id', workflowId, '--address', system.address, '--output', 'json', ...extra], { maxBuffer: 32 * 1024 * 1024 })
      .then((r) => [...r.stdout.matchAll(/"data": "([A-Za-z0-9+/=]*)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('utf8')).join('\n'));
  const plain = await cli('--codec-endpoint', `${system.base}/codec`, '--codec-auth', `Bearer ${system.keys.reader}`);
  expect(plain).toContain(citizenRef);
  expect(plain).toContain('categorized');
  const without = await cli();
  expect(without).not.toContain(citizenRef);
  expect(without).not.toContain('categorized');
  // Refused (403), the CLI retries until its deadline and prints nothing.
  await expect(cli('--codec-endpoint', `${system.base}/codec`, '--codec-auth', `Bearer ${system.keys.ops}`, '--command-timeout', '2s')).rejects.toThrow(/context deadline exceeded/);
});

test('who may decode: case-system and reader keys, national only; no key 401, ops 403, a bound key 403, another namespace 403', async () => {
  const [one] = payloadsOf(await rawHistory(system.env.client));
  const body = asJson([one!.payload]);
  const status = async (headers: Record<string, string>) => (await codec('/decode', { body, headers })).status;
  expect(await status({})).toBe(401);
  expect(await status(bearer('not-a-key-of-this-api-0001'))).toBe(401);
  expect(await status(bearer(system.keys.ops))).toBe(403);
  expect(await status(bearer(system.keys.reader))).toBe(200);
  expect(await status(bearer(system.keys['case-system']))).toBe(200);
  const bound = await codec('/decode', { body, headers: bearer(boundReader.key) });
  expect(bound.status).toBe(403);
  expect(((await bound.json()) as { error: { code: string } }).error.code).toBe('national-key-required');
  expect(await status({ ...bearer(system.keys.reader), 'x-namespace': 'other' })).toBe(403);
});

test('browsers: CORS for the UI origin only; a sign-in gives a session cookie the UI sends; a forged one is refused', async () => {
  const preflight = await codec('/decode', { method: 'OPTIONS', headers: { origin: uiOrigin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' } });
  expect(preflight.status).toBe(204);
  expect(preflight.headers.get('access-control-allow-origin')).toBe(uiOrigin);
  expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
  expect(preflight.headers.get('access-control-allow-headers')).toContain('X-Namespace');
  const foreign = await codec('/decode', { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
  expect(foreign.status).toBe(403);
  expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
  const [one] = payloadsOf(await rawHistory(system.env.client));
  const body = asJson([one!.payload]);
  expect((await codec('/decode', { body, headers: { origin: 'http://evil.example', ...bearer(system.keys.reader) } })).status).toBe(403);

  const login = await fetch(`${system.base}/codec/login`, { headers: { authorization: `Basic ${Buffer.from(`sagsbehandler:${system.keys.reader}`).toString('base64')}` } });
  expect(login.status).toBe(200);
  const setCookie = login.headers.get('set-cookie')!;
  expect(setCookie).toMatch(/^sfe_codec_session=\d+\.[A-Za-z0-9_-]{43}; Max-Age=28800; Path=\/codec; Expires=.+; HttpOnly; SameSite=Lax$/);
  const cookie = setCookie.split(';')[0]!;
  const withCookie = await codec('/decode', { body, headers: { origin: uiOrigin, cookie } });
  expect(withCookie.status).toBe(200);
  expect(withCookie.headers.get('access-control-allow-origin')).toBe(uiOrigin);
  const [expires, mac] = cookie.split('=')[1]!.split('.');
  expect((await codec('/decode', { body, headers: { cookie: `sfe_codec_session=${Number(expires) + 1}.${mac}` } })).status).toBe(401);
  expect((await codec('/decode', { body, headers: { cookie: `sfe_codec_session=${Math.floor(Date.now() / 1000) - 1}.${mac}` } })).status).toBe(401);
  const unauthenticatedLogin = await fetch(`${system.base}/codec/login`);
  expect(unauthenticatedLogin.status).toBe(401);
  expect(unauthenticatedLogin.headers.get('www-authenticate')).toMatch(/^Basic /);
});

test('a start, a signal or an update sent to Temporal in plain JSON, past the API, is refused by the worker: no case, no row, no change', async () => {
  // Someone who reaches Temporal directly, with no codec: what `temporal workflow start --input '{...}'` sends.
  const plain = new Client({ connection: system.env.connection, namespace: 'default' });
  const forgedId = `CODEC-PLAIN-${Date.now().toString(36)}`;
  const facts = { caseId: forgedId, citizenRef: 'REF-PLAIN-1', municipality: '101', firstAbsenceDay: addDays(today(), -20), employment: 'employee' };
  await plain.workflow.start('caseWorkflow', { taskQueue: system.taskQueue, workflowId: caseWorkflowId(forgedId), args: [{ facts }] });
  const failure = await system.env.client.workflow.getHandle(caseWorkflowId(forgedId)).result().then(() => null, (err: unknown) => err);
  expect(failure).toMatchObject({ name: 'WorkflowFailedError', cause: { type: CaseErrorType.UnencryptedPayload } });
  expect(await system.db.query('SELECT 1 FROM cases WHERE case_id = $1', [forgedId])).toEqual([]);

  // A real case, started through the API: a forged policy, event and update leave it as it was, and it goes on.
  const realId = `CODEC-REAL-${Date.now().toString(36)}`;
  expect((await system.api('POST', '/api/v1/cases', { caseId: realId, citizenRef: 'REF-REAL-1', municipality: '101', firstAbsenceDay: addDays(today(), -20), employment: 'employee' })).status).toBe(201);
  const handle = system.env.client.workflow.getHandle(caseWorkflowId(realId));
  const before = await handle.query(readModelSnapshotQuery);
  const forged = plain.workflow.getHandle(caseWorkflowId(realId));
  const forgedPolicy = { policyId: 'forged-pause', revision: 1, title: 'Forged', scope: 'national', effectiveFrom: today(), effects: [{ type: 'pause-deadlines' }] };
  await forged.signal('policyChange', forgedPolicy);
  await forged.signal('caseEvent', { eventId: 'forged-1', type: 'recovered', occurredOn: today() });
  // The validator refuses the update: the plain client cannot read why (the failure is encrypted), but nothing is accepted.
  await expect(forged.executeUpdate('reportEvent', { args: [{ eventId: 'forged-2', type: 'recovered', occurredOn: today() }] })).rejects.toThrow();
  const event = { eventId: 'after-forgery', type: 'certificate-requested', occurredOn: today() };
  expect((await system.api('POST', `/api/v1/cases/${realId}/events`, event)).status).toBe(200);
  const after = await handle.query(readModelSnapshotQuery);
  // The two signals were handled before the event (signals are delivered in order): only the event counted.
  expect(after.revision).toBe(before.revision + 1);
  expect(after.timeline.status).toBe('open');
  expect(after.timeline.policies.map((p) => p.policyId)).not.toContain('forged-pause');
  const history = (await handle.fetchHistory()).events ?? [];
  expect(history.filter((e) => e.workflowExecutionSignaledEventAttributes).map((e) => e.workflowExecutionSignaledEventAttributes!.signalName)).toEqual(['policyChange', 'caseEvent']);
  // Only the API's update was accepted; the forged one left no trace but its refusal to the caller.
  expect(history.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length).toBe(1);
  const row = await eventually(() => system.db.query<{ revision: number }>('SELECT revision FROM cases WHERE case_id = $1', [realId]), (r) => r[0]?.revision === after.revision, 'the row at the counter');
  expect(row).toEqual([{ revision: after.revision }]);
});

test('bad requests: a malformed body names the field; ciphertext altered or under an unknown key is refused, nothing decoded', async () => {
  const bad = await codec('/decode', { body: { payloads: [{ data: 'not base64!' }] }, headers: bearer(system.keys.reader) });
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { error: { message: string } }).error.message).toContain('payloads.0.data');
  const [one] = payloadsOf(await rawHistory(system.env.client));
  const tampered = Buffer.from(one!.payload.data!);
  tampered.writeUInt8(tampered.readUInt8(20) ^ 1, 20);
  const altered = await codec('/decode', { body: asJson([{ ...one!.payload, data: tampered }]), headers: bearer(system.keys.reader) });
  expect(altered.status).toBe(422);
  const foreignKey = await new EncryptionCodec(parseKeyring(newKeySpec('elsewhere'))).encode([{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"x"') }]);
  const unknown = await codec('/decode', { body: asJson(foreignKey), headers: bearer(system.keys.reader) });
  expect(unknown.status).toBe(422);
  expect(((await unknown.json()) as { error: { message: string } }).error.message).toBe('payload encrypted with key elsewhere, which is not in the keyring');
});

test('key rotation: a running case goes on under a new key; older payloads still decode; nothing is re-encrypted', async () => {
  const old = testKeyring();
  const rotated = parseKeyring(`${newKeySpec('rotated-2027')},${old.spec}`);
  // The worker held the old key: redeploy it with the new ring first (the README's rotation steps).
  await stopWorker();
  await startWorker(rotated);
  {
    const client = new Client({ connection: system.env.connection, namespace: 'default', dataConverter: caseDataConverter(rotated) });
    const before = payloadsOf(await rawHistory(client)).length;
    const handle = client.workflow.getHandle(workflowId);
    const result = await handle.executeUpdate(reportEventUpdate, { args: [{ eventId: 'e4', type: 'conversation-held', mode: 'in-person', occurredOn: today() }] });
    expect(result.applied).toBe(true);
    const after = payloadsOf(await rawHistory(client));
    const keyIds = after.map((p) => Buffer.from(p.payload.metadata![KEY_ID_METADATA]!).toString());
    expect(new Set(keyIds.slice(0, before))).toEqual(new Set([old.keyring.currentKeyId]));
    expect(new Set(keyIds.slice(before))).toEqual(new Set(['rotated-2027']));
    // The whole history, old key and new, reads with the rotated ring.
    const timeline = await handle.query(timelineQuery);
    expect(timeline.deadlines.find((d) => d.kind === 'first-conversation')?.status).toBe('met');
    expect((await handle.fetchHistory()).events!.length).toBeGreaterThan(0);
    // A process still holding only the old ring cannot read what the new key wrote: every process needs the new ring.
    const newest = after[after.length - 1]!.payload;
    const refused = await codec('/decode', { body: asJson([newest]), headers: bearer(system.keys.reader) });
    expect(refused.status).toBe(422);
  }
});
