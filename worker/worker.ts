import { type NativeConnection, Worker } from '@temporalio/worker';
import { type CaseActivities } from '../activities';

export interface CaseWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: CaseActivities;
  /** A prebuilt bundle (tests share one per file); otherwise the workflows are bundled at start. */
  workflowBundle?: { code: string };
}

/** The worker that runs case workflows and their activities. */
export function createCaseWorker(options: CaseWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: options.activities,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: require.resolve('../workflows') }),
  });
}
