import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { bundleCaseWorkflows, startTimeSkipping } from '../support/servers';

/**
 * What the history recorders (record-histories.ts, record-corpus.ts) run on: the time-skipping server and a
 * worker of the current workflow code whose activities write nothing, the `failingWrite`-th snapshot write
 * failing once, so the histories hold an activity's retry too.
 */
export async function recordingWorker(taskQueue: string, failingWrite: number): Promise<{ env: TestWorkflowEnvironment; stop(): Promise<void> }> {
  const env = await startTimeSkipping();
  let writes = 0;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await bundleCaseWorkflows(),
    activities: {
      recordCaseSnapshot: async () => {
        if (++writes === failingWrite) throw new Error('connection refused');
      },
      policiesPublishedAfter: async () => [],
      registryAfter: async ({ position }: { position: number }) => ({ position, policies: [] }),
    },
  });
  const running = worker.run();
  return {
    env,
    async stop() {
      worker.shutdown();
      await running;
      await env.teardown();
    },
  };
}
