import { NativeConnection, type Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { createLogger } from '../../platform/logger';
import { createCaseWorker } from '../../worker/worker';
import { addDays } from '../../workflows/domain/dates';
import { caseWorkflowId } from '../../workflows/messages';
import { faultHelpers } from '../support/fault-scenarios';
import { type ProcessSystem, startProcessSystem } from '../support/processes';
import { testKeyring } from '../support/servers';
import { eventually } from '../support/system';
import { bundleReleaseWithCorrection } from '../replay/fixtures/release-with-correction';

/**
 * A deploy of a changed engine on the cluster while cases run (issue #14, README: Safe deploys). Release A is
 * what runs today: the two worker processes of the cluster topology. Release B is the same code with one
 * rule correction (the fixture of test/replay/deploy.test.ts in place of rule-corrections.ts); its worker
 * replaces both of A's, which stop as a deploy stops them (SIGTERM). Cases started under A go on under B
 * without a failed workflow task; one that takes an event gets the corrected rule from then on, one left
 * alone keeps its dates, a case started under B has the correction from its start, and verify is clean.
 */
let system: ProcessSystem;
const { today } = faultHelpers(() => system);

beforeAll(async () => {
  system = await startProcessSystem({ taskQueue: 'cluster-deploy', signalsPerSecond: 40, topology: 'cluster' });
}, 240_000);

afterAll(async () => {
  await system?.stop();
});

const firstConversation = async (caseId: string) =>
  (await system.api('GET', `/api/v1/cases/${caseId}`, undefined, 'reader')).body.deadlines.find((d: { kind: string }) => d.kind === 'first-conversation') as {
    dueDate: string;
    originalDueDate: string;
  };

test('release B with a rule correction replaces release A under running cases on the cluster', async () => {
  const F = addDays(today(), -10);
  const run = Date.now().toString(36);
  const facts = (name: string) => ({ caseId: `DEPLOY-${run}-${name}`, citizenRef: `REF-${name}`, municipality: '101', firstAbsenceDay: F, employment: 'employee' });
  const [a, b] = [facts('A'), facts('B')];
  for (const c of [a, b]) {
    expect((await system.api('POST', '/api/v1/cases', c)).status).toBe(201);
    expect((await system.api('POST', `/api/v1/cases/${c.caseId}/events`, { eventId: 'v', type: 'categorized', category: 2, occurredOn: addDays(F, 3) })).status).toBe(200);
    expect((await firstConversation(c.caseId)).dueDate).toBe(addDays(F, 55));
  }

  // The deploy: A's workers stop as an orchestrator stops them; B's worker takes the task queue.
  await system.killWorker('SIGTERM');
  const connection = await NativeConnection.connect(system.temporalConnection);
  const releaseB = await bundleReleaseWithCorrection();
  const worker: Worker = await createCaseWorker({
    connection,
    namespace: 'default',
    taskQueue: system.taskQueue,
    workflowBundle: releaseB,
    activities: createActivities({ db: system.db, logger: createLogger('error', {}, () => undefined), client: system.client }),
    keyring: testKeyring().keyring,
  });
  await worker.runUntil(async () => {
    // A's cases replay on B with A's rules until their next change.
    expect((await firstConversation(b.caseId)).dueDate).toBe(addDays(F, 55));
    expect((await system.api('POST', `/api/v1/cases/${a.caseId}/events`, { eventId: 'c', type: 'certificate-requested', occurredOn: today() })).status).toBe(200);
    expect((await firstConversation(a.caseId)).dueDate).toBe(addDays(F, 48));
    expect((await firstConversation(b.caseId)).dueDate).toBe(addDays(F, 55));
    const c = facts('C');
    expect((await system.api('POST', '/api/v1/cases', c)).status).toBe(201);
    await eventually(() => firstConversation(c.caseId), (d) => d.originalDueDate === addDays(F, 48), 'a case started under B has the correction');
    for (const id of [a.caseId, b.caseId, c.caseId]) {
      const history = await system.client.workflow.getHandle(caseWorkflowId(id)).fetchHistory();
      expect(history.events!.filter((e) => e.workflowTaskFailedEventAttributes).map((e) => e.workflowTaskFailedEventAttributes!.failure?.message)).toEqual([]);
    }
    await eventually(() => system.ops('verify'), (r) => r.code === 0, 'ops verify clean under release B');
  });
  await connection.close();
  system.startWorker();
}, 240_000);
