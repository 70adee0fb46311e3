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

/**
 * Modules loaded once into the reusable V8 context and shared by every workflow, instead of once per
 * workflow: zod (the message schemas the validators share with the API) costs ~50 ms and a few MB to load,
 * which per workflow made a worker start only ~30 new or evicted cases a second. zod keeps no per-workflow
 * state; its module is frozen when shared.
 */
export const PRELOADED_WORKFLOW_MODULES = ['zod'];

/** The worker that runs case workflows and their activities. */
export function createCaseWorker(options: CaseWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: options.activities,
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: require.resolve('../workflows'), bundlerOptions: { preloadModules: PRELOADED_WORKFLOW_MODULES } }),
  });
}
