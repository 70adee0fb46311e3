import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { NativeConnection } from '@temporalio/worker';
import { ensureTemporalCertificates, TEMPORAL_TLS_SERVER_NAME } from '../../platform/tls-certificates';
import { addDays } from '../../workflows/domain/dates';
import { caseWorkflowId } from '../../workflows/messages';
import { CASE_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { caseSearchAttributeTypes, NAMESPACE_RETENTION_DAYS } from '../../dev/temporal-cluster/namespace';
import { TEMPORAL_SERVER_VERSION } from '../../dev/temporal-cluster/tools';
import { faultHelpers, faultScenarios } from '../support/fault-scenarios';
import { type ProcessSystem, startProcessSystem, tlsHandshake } from '../support/processes';
import { eventually } from '../support/system';

/**
 * The production topology (issue #14): the Temporal server v1.29.1 built from Go modules, its history and SQL
 * visibility in Postgres, its frontend behind mutual TLS (issue #23), its namespace and the case search attributes
 * created through the API, two workers
 * and two API instances, every one a real process (test/support/processes.ts, topology 'cluster'). Cases
 * start, take events and fan out across the instances; the fault scenarios of the dev-server suite
 * (test/support/fault-scenarios.ts) run here too; and one worker dies while the other carries on.
 */
let system: ProcessSystem;
const { today, openCases, pause, counters, convergedOnce, plusOne, midway } = faultHelpers(() => system);

beforeAll(async () => {
  // 40 signals a second, as the dev-server fault suite: a fan-out over 80 cases is long enough to be hit in the middle.
  system = await startProcessSystem({ taskQueue: 'cluster', signalsPerSecond: 40, topology: 'cluster' });
}, 240_000);

afterAll(async () => {
  await system?.stop();
});

test('the cluster is the pinned Temporal server; its namespace and every case search attribute were created through the API', async () => {
  const info = await system.client.workflowService.getSystemInfo({});
  expect(info.serverVersion).toBe(TEMPORAL_SERVER_VERSION);
  const ns = await system.client.workflowService.describeNamespace({ namespace: 'default' });
  expect(Number(ns.config?.workflowExecutionRetentionTtl?.seconds)).toBe(NAMESPACE_RETENTION_DAYS * 86_400);
  const { customAttributes, storageSchema } = await system.client.connection.operatorService.listSearchAttributes({ namespace: 'default' });
  expect(customAttributes).toEqual(caseSearchAttributeTypes());
  expect(Object.keys(customAttributes ?? {}).sort()).toEqual(CASE_SEARCH_ATTRIBUTES.map((k) => k.name).sort());
  // SQL visibility: each custom attribute is an alias of one of the visibility table's pre-made columns.
  expect(Object.keys(storageSchema ?? {})).toEqual([]);
  expect(customAttributes!.PolicyRevisions).toBe(temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST);
});

test("the frontend takes only clients holding a certificate of the cluster's CA: none, or another CA's, is refused; the engine's processes hold one", async () => {
  const { tls, ports } = system.cluster!;
  const { address } = system.temporalConnection;
  const ca = readFileSync(tls.ca);
  // Plain gRPC, as `temporal workflow start` without TLS flags sends it.
  await expect(Connection.connect({ address, connectTimeout: 2_000 })).rejects.toThrow();
  // TLS that trusts the server but shows no certificate of its own (the frontend's alert, certificate required, or
  // the connection it then closes, whichever the client reads first).
  await expect(NativeConnection.connect({ address, tls: { serverNameOverride: TEMPORAL_TLS_SERVER_NAME, serverRootCACertificate: ca } })).rejects.toThrow('Failed to call GetSystemInfo');
  // The same at the TLS handshake, on the gRPC port and the HTTP API's: no certificate, one of one's own making
  // (another CA signed it), and the engine's.
  const forged = await ensureTemporalCertificates(mkdtempSync(path.join(os.tmpdir(), 'sfe-other-ca-')));
  const forgedPair = { cert: readFileSync(forged.files.clientCert), key: readFileSync(forged.files.clientKey) };
  rmSync(forged.files.dir, { recursive: true, force: true });
  const ours = { cert: readFileSync(tls.clientCert), key: readFileSync(tls.clientKey) };
  for (const port of [ports.frontend, ports.frontendHttp]) {
    expect(await tlsHandshake(port, tls)).toBe('refused: ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
    expect(await tlsHandshake(port, tls, forgedPair)).toBe('refused: ERR_SSL_TLSV1_ALERT_UNKNOWN_CA');
    expect(await tlsHandshake(port, tls, ours)).toBe('accepted');
  }
  // With the engine's certificate it answers; the workers and APIs were given it (platform/config.ts TEMPORAL_TLS_*) and run the cases of this suite.
  const connection = await NativeConnection.connect(system.temporalConnection);
  await connection.close();
  expect((await system.api('GET', '/readyz', undefined, 'reader', 0)).status).toBe(200);
  expect((await system.api('GET', '/readyz', undefined, 'reader', 1)).status).toBe(200);
});

test('visibility answers 40 counts at once without rationing them (frontend.namespaceRPS.visibility 100, as the dev server; a cluster alone allows 10)', async () => {
  // Without the SDK's retries, a call beyond the allowance fails at once with RESOURCE_EXHAUSTED instead of waiting.
  const bare = await Connection.connect({ ...system.temporalConnection, interceptors: [] });
  try {
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, () => bare.workflowService.countWorkflowExecutions({ namespace: 'default', query: `CaseId = 'nobody'` })),
    );
    expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
  } finally {
    await bare.close();
  }
});

test('a case started through one API instance takes an event through the other; both answer alike, and the read model and visibility follow', async () => {
  const caseId = 'CLUSTER-1';
  const start = { caseId, citizenRef: 'REF-CLUSTER-1', municipality: '101', firstAbsenceDay: addDays(today(), -20), employment: 'employee' };
  const created = await system.api('POST', '/api/v1/cases', start, 'case-system', 0);
  expect(created.status).toBe(201);
  expect(created.body.deadlines.find((d: any) => d.kind === 'first-conversation')).toMatchObject({ status: 'pending', dueDate: addDays(start.firstAbsenceDay, 55) });
  const held = { eventId: 'held-1', type: 'conversation-held', occurredOn: addDays(today(), -1), mode: 'video', category: 2 };
  const answered = await system.api('POST', `/api/v1/cases/${caseId}/events`, held, 'case-system', 1);
  expect(answered.status).toBe(200);
  expect(answered.body.deadlines.find((d: any) => d.id === 'first-conversation')).toMatchObject({ status: 'met', mode: 'video' });
  const [fromFirst, fromSecond] = [await system.api('GET', `/api/v1/cases/${caseId}`, undefined, 'reader', 0), await system.api('GET', `/api/v1/cases/${caseId}`, undefined, 'reader', 1)];
  expect(fromFirst.status).toBe(200);
  expect(fromSecond.body).toEqual(fromFirst.body);
  expect(fromFirst.body.category).toBe(2);
  const mode = fromFirst.body.conversationMode as string;

  const row = await eventually(
    () => system.db.query<{ category: number | null; conversation_mode: string; revision: number }>('SELECT category, conversation_mode, revision FROM cases WHERE case_id = $1', [caseId]),
    (rows) => rows[0]?.category === 2,
    'the read model has the event',
  );
  expect(row[0]).toMatchObject({ category: 2, conversation_mode: mode });
  // SQL visibility lists the case by its search attributes, with the counter the read model holds.
  const listed = await eventually(
    async () => {
      const page = await system.client.workflowService.listWorkflowExecutions({ namespace: 'default', query: `CaseId = '${caseId}' AND Category = '2' AND ConversationMode = '${mode}'` });
      return page.executions ?? [];
    },
    (executions) => executions.length === 1,
    'visibility lists the case by its attributes',
  );
  expect(listed[0]!.execution?.workflowId).toBe(caseWorkflowId(caseId));
  const counter = JSON.parse(Buffer.from(listed[0]!.searchAttributes!.indexedFields!.CaseRevision!.data!).toString('utf8')) as number;
  expect(await eventually(() => system.db.query<{ revision: number }>('SELECT revision FROM cases WHERE case_id = $1', [caseId]), (r) => r[0]?.revision === counter, 'row at the counter')).toEqual([{ revision: counter }]);
});

test('one worker killed (SIGKILL) in the middle of a fan-out while the other keeps going: cases still take events, the fan-out completes, verify is clean', async () => {
  const ids = await openCases('ONE-W', '185', 80);
  const policy = pause('cluster-one-worker', ['185']);
  const before = await counters(ids);
  expect((await system.api('POST', '/api/v1/policy-changes', policy)).status).toBe(201);
  await midway(policy, ids.length, 10);
  await system.killWorker('SIGKILL', 0);
  // Cases other than those of the fan-out still progress: an event on each answers with its effect.
  const others = await openCases('ONE-W-EVENTS', '187', 6);
  const answers = await Promise.all(
    others.map((caseId, i) => system.api('POST', `/api/v1/cases/${caseId}/events`, { eventId: 'cat', type: 'categorized', category: 3, occurredOn: today() }, 'case-system', i % 2)),
  );
  expect(answers.map((a) => a.status)).toEqual(Array(others.length).fill(200));
  expect(answers.map((a) => a.body.category)).toEqual(Array(others.length).fill(3));
  await convergedOnce(policy, ids, plusOne(before));
  // Everything was done by the one worker left: the killed one is still down.
  system.startWorker(0);
});

faultScenarios(() => system);
