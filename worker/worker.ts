import { getHeapStatistics, setFlagsFromString } from 'node:v8';
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
  /** How many cases the worker keeps in memory, as a count; see caseCacheSize. */
  maxCachedWorkflows?: number;
  /** The worker's memory budget in MB, which sizes its cache instead of a count; see caseCacheSize. */
  memoryMb?: number;
  /** Threads that run workflow code (DEFAULT_WORKFLOW_THREADS unless given). */
  workflowThreads?: number;
  /** The SDK's stack traces of running workflows (off unless true): see createCaseWorker. */
  workflowStackTraces?: boolean;
}

/**
 * The V8 heap a cached case may take, in kB, which sizes the cache from node's heap when no budget is given: the
 * resident memory a case added with the heap free to grow, well above the live heap of a short cached run, so V8
 * keeps room to collect in (docs/capacity.md, "The measured per-case costs"). A long run holds more, since the SDK
 * keeps each read-model write's input until the run ends, and continue-as-new is what bounds it
 * (docs/benchmarks/2026-12-05-replay-cost.md). Re-measure before changing it.
 */
export const CACHED_CASE_KB = 300;
/**
 * The resident memory a cached case adds to the worker, in kB, which sizes the cache from a memory budget: its heap
 * and what the SDK's core and the allocator hold for it outside V8. It is above what a case needed in every run of
 * docs/capacity.md (Sizing the cache by memory), with the worker's cache full and evicting, as a national policy
 * over more cases than the caches hold keeps it. Re-measure before changing it.
 */
export const CACHED_CASE_RSS_KB = 460;
/**
 * What the worker keeps for itself outside its cached cases (node, the SDK's core, the main thread's heap with the
 * activities, a workflow bundle per thread), in MB: a reserve above what an idle worker holds (docs/capacity.md,
 * Sizing the cache by memory).
 */
export const WORKER_BASE_MB = 512;
/**
 * The smallest heap a workflow thread is given, in MB: below it the thread could not hold the workflow bundle and a
 * few cases, and would end out of memory instead of running cases.
 */
export const MIN_WORKFLOW_THREAD_HEAP_MB = 128;
const MiB = 1024 * 1024;

/**
 * How many cases fit in `heapLimitBytes` (node's V8 heap, by default this process's) after the worker's own
 * memory, at CACHED_CASE_KB a case, and at least 100. The SDK's own default assumes a far larger workflow and keeps
 * a fraction of that, and a case that is not kept is replayed from its history on its next task (docs/capacity.md,
 * Workers and the workflow cache).
 */
export function defaultCaseCacheSize(heapLimitBytes = getHeapStatistics().heap_size_limit): number {
  return Math.max(100, Math.floor(((heapLimitBytes - WORKER_BASE_MB * MiB) / 1024) / CACHED_CASE_KB));
}

/** What sets the worker's cache size: a memory budget (WORKER_MEMORY_MB), a count (WORKER_MAX_CACHED_WORKFLOWS), or neither. */
export interface CaseCacheSetting {
  memoryMb?: number;
  cases?: number;
  /** Threads that run workflow code (DEFAULT_WORKFLOW_THREADS unless given): they share a budget's heap. */
  workflowThreads?: number;
}

export interface CaseCacheSize {
  /** Cases the worker keeps in memory between their tasks (the SDK's maxCachedWorkflows). */
  cases: number;
  /** What decided it: the count given, the memory budget, or node's heap (no setting). */
  from: 'count' | 'memory-budget' | 'heap';
  /** With a memory budget: the heap limit, in MB, of each thread that runs workflow code, so V8 collects instead of growing past its share. */
  workflowThreadHeapMb?: number;
}

/**
 * The worker's cache size. A count is taken as given. A memory budget holds WORKER_BASE_MB for the worker and
 * CACHED_CASE_RSS_KB a case, and the budget after WORKER_BASE_MB is shared as heap limits by the threads that run
 * workflow code, where the cached cases live. Without the limits V8 lets each thread's heap grow towards its
 * default, whatever the cache, and the worker ends above its budget
 * (docs/benchmarks/2026-12-05-national-100000-two-workers.md). The limits are not the whole bound: what a case
 * holds outside V8 is bounded by the count. Without either setting, as many cases as fit node's heap.
 */
export function caseCacheSize(setting: CaseCacheSetting, heapLimitBytes = getHeapStatistics().heap_size_limit): CaseCacheSize {
  if (setting.cases !== undefined && setting.memoryMb !== undefined) {
    throw new Error('the worker cache is set by a memory budget or by a count, not both (WORKER_MEMORY_MB, WORKER_MAX_CACHED_WORKFLOWS)');
  }
  if (setting.cases !== undefined) return { cases: setting.cases, from: 'count' };
  if (setting.memoryMb === undefined) return { cases: defaultCaseCacheSize(heapLimitBytes), from: 'heap' };
  const cases = Math.floor(((setting.memoryMb - WORKER_BASE_MB) * 1024) / CACHED_CASE_RSS_KB);
  if (cases < 2) throw new Error(`a memory budget of ${setting.memoryMb} MB leaves no room for cases after the worker's own ${WORKER_BASE_MB} MB`);
  const threads = setting.workflowThreads ?? DEFAULT_WORKFLOW_THREADS;
  const workflowThreadHeapMb = Math.floor((setting.memoryMb - WORKER_BASE_MB) / threads);
  if (workflowThreadHeapMb < MIN_WORKFLOW_THREAD_HEAP_MB) {
    throw new Error(
      `a memory budget of ${setting.memoryMb} MB (WORKER_MEMORY_MB) shared by ${threads} workflow threads (WORKER_WORKFLOW_THREADS) gives each ${workflowThreadHeapMb} MB of heap, less than ${MIN_WORKFLOW_THREAD_HEAP_MB} MB: raise the budget or use fewer threads`,
    );
  }
  return { cases, from: 'memory-budget', workflowThreadHeapMb };
}

/**
 * V8's old-space limit as node was started (`--max-old-space-size` in NODE_OPTIONS or its arguments, which node
 * applies after NODE_OPTIONS, so the last one given wins), 0 if none: V8's own default.
 */
function startedHeapFlagMb(): number {
  const args = [...(process.env.NODE_OPTIONS ?? '').split(/\s+/), ...process.execArgv];
  const flag = args.map((a) => /^--max[-_]old[-_]space[-_]size=(\d+)$/.exec(a)?.[1]).filter(Boolean).pop();
  return flag ? Number(flag) : 0;
}

/**
 * Runs `create` with V8's old-space limit at `heapMb`, so that the threads it starts get that heap limit. The SDK
 * starts its workflow threads without `resourceLimits`, and a new thread takes V8's flag as it is when the thread
 * builds its V8 instance, on its own, after it was created. So this relies on `create` waiting for its threads to
 * start: the SDK's Worker.create waits for each workflow thread's first reply (ThreadedVMWorkflowCreator.create).
 * The flag is put back afterwards for threads started later; one call at a time (a worker process makes one).
 */
export async function withNewThreadsHeapLimit<T>(heapMb: number | undefined, create: () => Promise<T>): Promise<T> {
  if (heapMb === undefined) return create();
  setFlagsFromString(`--max-old-space-size=${heapMb}`);
  try {
    return await create();
  } finally {
    setFlagsFromString(`--max-old-space-size=${startedHeapFlagMb()}`);
  }
}

/**
 * How the workflows are bundled, here and in the tests. zod and the schema holder are evaluated once in the
 * worker's shared V8 context instead of once per case (see workflows/domain/shared-schemas.ts): a case then
 * starts faster and holds no copy of the schemas (docs/capacity.md, What the throughput rests on).
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
  // copy the threads never see: dev/test.sh sets the variable for the whole test run instead.)
  process.env.WORKER_WORKFLOW_STACK_TRACES = options.workflowStackTraces ? 'on' : 'off';
  const threads = options.workflowThreads ?? DEFAULT_WORKFLOW_THREADS;
  const cache = caseCacheSize({ cases: options.maxCachedWorkflows, memoryMb: options.memoryMb, workflowThreads: threads });
  return withNewThreadsHeapLimit(cache.workflowThreadHeapMb, () => Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: options.activities,
    dataConverter: caseDataConverter(options.keyring, 'mark'),
    maxCachedWorkflows: cache.cases,
    workflowThreadPoolSize: threads,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath, bundlerOptions: { preloadModules } }),
  }));
}
