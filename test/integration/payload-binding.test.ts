import { randomUUID } from 'node:crypto';
import { type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { addDays, copenhagenDate } from '../../workflows/domain/dates';
import { CaseErrorType, caseWorkflowId, readModelSnapshotQuery } from '../../workflows/messages';
import { eventually, startSystem, type TestSystem } from '../support/system';

/**
 * Issue #23: each payload is bound to its workflow inside the encryption (platform/payload-binding.ts). Someone who
 * reaches Temporal and copies a ciphertext out of one case's history, a start input or an event that case accepted,
 * cannot replay it into another case: the worker refuses it as it refuses plaintext. The API's own traffic is bound
 * and read as before.
 */
let system: TestSystem;

beforeAll(async () => {
  system = await startSystem({ taskQueue: 'payload-binding' });
});

afterAll(async () => {
  await system?.stop();
});

const today = () => copenhagenDate(Date.now());
const run = Date.now().toString(36);
const facts = (caseId: string) => ({ caseId, citizenRef: `REF-${caseId}`, municipality: '101', firstAbsenceDay: addDays(today(), -20), employment: 'employee' });
const service = () => system.env.client.workflowService;

test("a case's ciphertexts, copied into another case's start, signal or update, are refused; both cases go on", async () => {
  const [a, b, forged] = [`BIND-A-${run}`, `BIND-B-${run}`, `BIND-C-${run}`];
  expect((await system.api('POST', '/api/v1/cases', facts(a))).status).toBe(201);
  expect((await system.api('POST', `/api/v1/cases/${a}/events`, { eventId: 'a-categorized', type: 'categorized', category: 3, occurredOn: today() })).status).toBe(200);
  expect((await system.api('POST', '/api/v1/cases', facts(b))).status).toBe(201);

  // What Temporal holds of case A, as someone with access to it reads it: ciphertexts, no codec.
  const events = (await service().getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId: caseWorkflowId(a) } })).history!.events!;
  const startInput = events[0]!.workflowExecutionStartedEventAttributes!.input!.payloads as Payload[];
  const eventArgs = events.find((e) => e.workflowExecutionUpdateAcceptedEventAttributes)!.workflowExecutionUpdateAcceptedEventAttributes!.acceptedRequest!.input!.args!.payloads as Payload[];
  expect(Buffer.from(eventArgs[0]!.metadata!.encoding!).toString()).toBe('binary/encrypted');

  const handleB = system.env.client.workflow.getHandle(caseWorkflowId(b));
  const before = await handleB.query(readModelSnapshotQuery);

  // A's accepted event, as a signal and as an update to B.
  await service().signalWorkflowExecution({ namespace: 'default', workflowExecution: { workflowId: caseWorkflowId(b) }, signalName: 'caseEvent', input: { payloads: eventArgs }, identity: 'copier' });
  const update = await service().updateWorkflowExecution({
    namespace: 'default',
    workflowExecution: { workflowId: caseWorkflowId(b) },
    request: { meta: { updateId: randomUUID(), identity: 'copier' }, input: { name: 'reportEvent', args: { payloads: eventArgs } } },
    waitPolicy: { lifecycleStage: temporal.api.enums.v1.UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED },
  });
  expect(update.outcome?.failure).toBeTruthy();

  // A's start input, as the start of a case under another workflow id.
  await service().startWorkflowExecution({
    namespace: 'default',
    workflowId: caseWorkflowId(forged),
    workflowType: { name: 'caseWorkflow' },
    taskQueue: { name: 'payload-binding' },
    input: { payloads: startInput },
    requestId: randomUUID(),
    identity: 'copier',
  });
  const failure = await system.env.client.workflow.getHandle(caseWorkflowId(forged)).result().then(() => null, (err: unknown) => err);
  expect(failure).toMatchObject({ name: 'WorkflowFailedError', cause: { type: CaseErrorType.UnencryptedPayload } });
  expect(await system.db.query('SELECT 1 FROM cases WHERE case_id = $1', [forged])).toEqual([]);

  // B is as it was: the copied categorisation not applied; its next event through the API counts once.
  const event = { eventId: 'b-after-copies', type: 'certificate-requested', occurredOn: today() };
  expect((await system.api('POST', `/api/v1/cases/${b}/events`, event)).status).toBe(200);
  const after = await handleB.query(readModelSnapshotQuery);
  expect(after.revision).toBe(before.revision + 1);
  expect(after.timeline.status).toBe('open');
  expect((await system.api('GET', `/api/v1/cases/${b}`)).body.category).not.toBe(3);
  const historyB = (await handleB.fetchHistory()).events ?? [];
  expect(historyB.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length).toBe(1);
  await eventually(() => system.db.query<{ revision: number; status: string }>('SELECT revision, status FROM cases WHERE case_id = $1', [b]), (r) => r[0]?.revision === after.revision, 'the row at the counter');

  // A reads as before, through the API and the engine's client.
  expect((await system.api('GET', `/api/v1/cases/${a}`)).body).toMatchObject({ caseId: a, category: 3 });
});
