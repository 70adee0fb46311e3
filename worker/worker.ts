import { getHeapStatistics } from 'node:v8';
import { type BundleOptions, type NativeConnection, Worker } from '@temporalio/worker';
import { type CaseActivities } from '../activities';
import { DEFAULT_WORKFLOW_THREADS } from '../platform/config';
import { type Keyring } from '../platform/payload-codec';
import { caseDataConverter, FAILURE_CONVERTER_PATH } from '../platform/temporal';

export interface CaseWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: CaseActivities;
  /** The payload keys: every payload the worker hands to Temporal is encrypted with the current one. */
  keyring: Keyring;
  /** A prebuilt bundle (tests share one per file); otherwise the workflows are bundled at start. */
  workflowBundle?: { code: string };
  /** How many cases the worker keeps in memory; by default as many as fit the heap (defaultCaseCacheSize). */
  maxCachedWorkflows?: number;
  /** Threads that run workflow code (DEFAULT_WORKFLOW_THREADS unless given). */
  workflowThreads?: number;
  /** The SDK's stack traces of running workflows (off unless true): see createCaseWorker. */
  workflowStackTraces?: boolean;
}

/**
 * A cached case holds about 80 kB of live heap (a heap snapshot of 500 cached cases), and the worker's
 * resident memory grew by 300 to 460 kB a case (bench:fanout, 10,000 cases), V8 letting the heap grow well
 * past what is live.
 * The SDK's default assumes about 1.7 MB a workflow and would keep only 2,300 cases in a 4 GB heap; a
 * case that is not kept is replayed from its history on its next task, which made a 10,000-case fan-out
 * three times slower. The default keeps as many cases as fit the heap with 512 MB to spare, at 300 kB each.
 */
export function defaultCaseCacheSize(heapLimitBytes = getHeapStatistics().heap_size_limit): number {
  return Math.max(100, Math.floor((heapLimitBytes - 512 * 1024 * 1024) / (300 * 1024)));
}

/**
 * How the workflows are bundled, here and in the tests. zod and the schema holder are evaluated once in the
 * worker's shared V8 context instead of once per case (see workflows/domain/shared-schemas.ts): a case then
 * starts in about 4 ms instead of 11 ms and holds no copy of the schemas.
 */
export function workflowBundleOptions(): Pick<BundleOptions, 'workflowsPath' | 'preloadModules' | 'failureConverterPath'> {
  return {
    workflowsPath: require.resolve('../workflows'),
    // Failures from workflow code carry their message inside the encrypted details (platform/failure-converter.ts).
    failureConverterPath: FAILURE_CONVERTER_PATH,
    preloadModules: ['zod', require.resolve('../workflows/domain/shared-schemas')],
  };
}

/**
 * The worker that runs case workflows and their activities.
 *
 * Workflow code runs in worker threads, the SDK's default being one. With one, a 10,000-case fan-out left
 * the workflow thread idle about half the time while tasks queued on the server. Two threads keep the
 * cores busy (measured before the SDK bridge patch in patches/): 80 s instead of 82 s on two cores
 * (bench:fanout), and 77 s instead of 86 s with the dev server's per-read search-attribute refresh off,
 * as it now is. WORKER_WORKFLOW_THREADS overrides it.
 */
export function createCaseWorker(options: CaseWorkerOptions): Promise<Worker> {
  const { workflowsPath, preloadModules } = workflowBundleOptions();
  // The SDK captures a stack trace for every promise a workflow creates, to answer the __stack_trace query
  // (the UI's Stack Trace tab); that is a third of the CPU of replaying a case (npm run bench:replay), and a
  // national policy replays every case the worker no longer holds. patches/npm lets it be left out: the
  // workflow threads read WORKER_WORKFLOW_STACK_TRACES when the SDK starts them, here, and the query then
  // answers that stack traces are not enabled. README, Patches to the SDK. (In a Jest test, process.env is a
  // copy the threads never see: scripts/test.sh sets the variable for the whole test run instead.)
  process.env.WORKER_WORKFLOW_STACK_TRACES = options.workflowStackTraces ? 'on' : 'off';
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: options.activities,
    dataConverter: caseDataConverter(options.keyring, 'mark'),
    maxCachedWorkflows: options.maxCachedWorkflows ?? defaultCaseCacheSize(),
    workflowThreadPoolSize: options.workflowThreads ?? DEFAULT_WORKFLOW_THREADS,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath, bundlerOptions: { preloadModules } }),
  });
}
