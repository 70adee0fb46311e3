import { caseFactsQuery, caseWorkflowId } from '../../workflows/messages';
import { startProcessSystem, type ProcessSystem } from '../support/processes';
import { openCases } from '../support/cases';

/**
 * The SDK's workflow stack traces (the __stack_trace query, the UI's Stack Trace tab) are off in the worker
 * unless WORKER_WORKFLOW_STACK_TRACES is on: patches/npm leaves out the promise hook that captures a stack for
 * every promise, a third of a replay's CPU (npm run bench:replay). Against the real dev server and the
 * worker's production process (dist/worker/main.js), with the patch as npm install applies it; without the
 * patch the first test fails (the query answers a stack).
 */
let system: ProcessSystem;

beforeAll(async () => {
  system = await startProcessSystem({ taskQueue: 'stack-traces', signalsPerSecond: 100 });
});

afterAll(async () => {
  await system?.stop();
});

/** Opens a case and waits until its first workflow task has run (the read model has its timeline). */
const openCase = async (prefix: string) => (await openCases(system, { prefix, count: 1 }))[0]!;

const stackTrace = (caseId: string) => system.client.workflow.getHandle(caseWorkflowId(caseId)).query<string>('__stack_trace');

test('by default the worker answers the stack-trace query of a running case that stack traces are not enabled', async () => {
  const caseId = await openCase('STACK-OFF');
  // The case answers its own queries...
  expect((await system.client.workflow.getHandle(caseWorkflowId(caseId)).query(caseFactsQuery)).facts.caseId).toBe(caseId);
  // ...but not the stack trace: the SDK refuses it (the message is encrypted by the failure converter and the
  // server passes on no more than that; in the worker it reads "Workflow stack traces are not enabled on this
  // worker"). With the hook installed it would answer a stack, as the next test shows.
  await expect(stackTrace(caseId)).rejects.toThrow(/^Encoded failure$/);
});

test('with WORKER_WORKFLOW_STACK_TRACES=on the query shows where the case waits, in the workflow source', async () => {
  await system.killWorker('SIGTERM');
  system.startWorker(undefined, { WORKER_WORKFLOW_STACK_TRACES: 'on' });
  const caseId = await openCase('STACK-ON');
  // Source-mapped frames of the case workflow, waiting on its next timer or message.
  expect(await stackTrace(caseId)).toMatch(/at caseWorkflow \(.*workflows\/case-workflow\.ts:\d+:\d+\)/);
});
