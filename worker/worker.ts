import { type BundleOptions, type NativeConnection, Worker } from '@temporalio/worker';
import { type CaseActivities } from '../activities';

export interface CaseWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: CaseActivities;
  /** A prebuilt bundle (tests share one per file); otherwise the workflows are bundled at start. */
  workflowBundle?: { code: string };
  /** How many cases the worker keeps in memory; the SDK's default follows the heap size. */
  maxCachedWorkflows?: number;
}

/**
 * How the workflows are bundled, here and in the tests. zod and the schema holder are evaluated once in the
 * worker's shared V8 context instead of once per case (see workflows/domain/shared-schemas.ts): a case then
 * starts in about 4 ms instead of 11 ms and holds no copy of the schemas.
 */
export function workflowBundleOptions(): Pick<BundleOptions, 'workflowsPath' | 'preloadModules'> {
  return {
    workflowsPath: require.resolve('../workflows'),
    preloadModules: ['zod', require.resolve('../workflows/domain/shared-schemas')],
  };
}

/** The worker that runs case workflows and their activities. */
export function createCaseWorker(options: CaseWorkerOptions): Promise<Worker> {
  const { workflowsPath, preloadModules } = workflowBundleOptions();
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: options.activities,
    ...(options.maxCachedWorkflows ? { maxCachedWorkflows: options.maxCachedWorkflows } : {}),
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath, bundlerOptions: { preloadModules } }),
  });
}
