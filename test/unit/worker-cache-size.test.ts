import { loadConfig } from '../../platform/config';
import { problemsOf } from '../support/config';
import { Worker as NodeThread } from 'node:worker_threads';
import { caseCacheSize, defaultCaseCacheSize, withNewThreadsHeapLimit } from '../../worker/worker';

const MiB = 1024 * 1024;
/** node's default heap on the measured 2-core, 23 GB machine; with --max-old-space-size=8192 it is 8,240 MiB. */
const DEFAULT_HEAP = 4_144 * MiB;
const base = { DATABASE_URL: 'postgres://u:p@db:5432/cases' };

describe('the worker cache sized from a memory budget', () => {
  test('a budget keeps 512 MB for the worker, gives each case 460 kB and shares the rest as the workflow threads\' heaps', () => {
    // (6,144 - 512) MB at 460 kB a case; two threads (the default) of (6,144 - 512) / 2 MB.
    expect(caseCacheSize({ memoryMb: 6_144 }, DEFAULT_HEAP)).toEqual({ cases: 12_537, from: 'memory-budget', workflowThreadHeapMb: 2_816 });
    expect(caseCacheSize({ memoryMb: 1_024 }, DEFAULT_HEAP)).toEqual({ cases: 1_139, from: 'memory-budget', workflowThreadHeapMb: 256 });
    expect(caseCacheSize({ memoryMb: 6_144, workflowThreads: 4 }, DEFAULT_HEAP)).toEqual({ cases: 12_537, from: 'memory-budget', workflowThreadHeapMb: 1_408 });
  });

  test('two workers of 22,973 MB each keep 100,000 cases between them', () => {
    const perWorker = caseCacheSize({ memoryMb: 22_973 }, DEFAULT_HEAP);
    expect(perWorker.cases).toBe(50_000);
    expect(2 * perWorker.cases).toBeGreaterThanOrEqual(100_000);
  });

  test("a budget is not held to node's heap: the worker bounds its workflow threads' heaps by the budget itself", () => {
    expect(caseCacheSize({ memoryMb: 12_000 }, 2_048 * MiB)).toEqual({ cases: 25_573, from: 'memory-budget', workflowThreadHeapMb: 5_744 });
  });

  test("without a setting the cache is what node's heap holds; a count is taken as given", () => {
    expect(caseCacheSize({}, DEFAULT_HEAP)).toEqual({ cases: 12_397, from: 'heap' });
    expect(caseCacheSize({ cases: 20_000 }, DEFAULT_HEAP)).toEqual({ cases: 20_000, from: 'count' });
    expect(caseCacheSize({ cases: 1_000 }, DEFAULT_HEAP)).toEqual({ cases: 1_000, from: 'count' });
    expect(defaultCaseCacheSize(DEFAULT_HEAP)).toBe(12_397);
  });

  test('a budget and a count together, or a budget with no room for cases, are refused', () => {
    expect(() => caseCacheSize({ memoryMb: 6_144, cases: 1_000 }, DEFAULT_HEAP)).toThrow('a memory budget or by a count, not both');
    expect(() => caseCacheSize({ memoryMb: 512 }, DEFAULT_HEAP)).toThrow("a memory budget of 512 MB leaves no room for cases after the worker's own 512 MB");
    // 16 threads sharing (1,024 - 512) MB would get 32 MB of heap each, too little for the workflow bundle.
    expect(() => caseCacheSize({ memoryMb: 1_024, workflowThreads: 16 }, DEFAULT_HEAP)).toThrow(
      'a memory budget of 1024 MB (WORKER_MEMORY_MB) shared by 16 workflow threads (WORKER_WORKFLOW_THREADS) gives each 32 MB of heap, less than 128 MB: raise the budget or use fewer threads',
    );
    expect(caseCacheSize({ memoryMb: 1_024, workflowThreads: 4 }, DEFAULT_HEAP).workflowThreadHeapMb).toBe(128);
  });
});

describe("the workflow threads' heap limit", () => {
  /** The V8 heap limit, in MB, of a new node thread (the SDK's workflow threads are such threads). */
  const threadHeapLimitMb = () =>
    new Promise<number>((resolve, reject) => {
      const thread = new NodeThread("require('node:worker_threads').parentPort.postMessage(require('node:v8').getHeapStatistics().heap_size_limit)", { eval: true });
      thread.once('message', (bytes: number) => void thread.terminate().then(() => resolve(bytes / MiB)));
      thread.once('error', reject);
    });

  test('threads started inside get the limit; threads started after get the process\'s default again', async () => {
    const before = await threadHeapLimitMb();
    const inside = await withNewThreadsHeapLimit(256, threadHeapLimitMb);
    // V8's limit is the old space's plus its young generation (a few tens of MB).
    expect(inside).toBeGreaterThanOrEqual(256);
    expect(inside).toBeLessThan(256 + 100);
    expect(before).toBeGreaterThan(1_000);
    expect(await threadHeapLimitMb()).toBe(before);
  });

  test('without a limit the threads get the process\'s default', async () => {
    expect(await withNewThreadsHeapLimit(undefined, threadHeapLimitMb)).toBe(await threadHeapLimitMb());
  });
});

describe('WORKER_MEMORY_MB', () => {
  test('is read as megabytes, and is unset by default', () => {
    expect(loadConfig({ ...base, WORKER_MEMORY_MB: '6144' }).workerMemoryMb).toBe(6_144);
    expect(loadConfig({ ...base, WORKER_MEMORY_MB: '' }).workerMemoryMb).toBeUndefined();
    expect(loadConfig(base)).toMatchObject({ workerMemoryMb: undefined, workerMaxCachedWorkflows: undefined });
  });

  test('a value that is not a whole number of megabytes from 1024 up is named with its problem', () => {
    const hint = "(the worker's memory budget in MB, which sizes the cases it keeps in memory between their tasks and bounds its workflow threads' heaps; as many as fit node's heap when unset)";
    expect(problemsOf({ ...base, WORKER_MEMORY_MB: '6GB' })).toEqual([`WORKER_MEMORY_MB: must be a whole number of megabytes ${hint}`]);
    expect(problemsOf({ ...base, WORKER_MEMORY_MB: '6144.5' })).toEqual([`WORKER_MEMORY_MB: must be a whole number of megabytes ${hint}`]);
    expect(problemsOf({ ...base, WORKER_MEMORY_MB: '512' })).toEqual([`WORKER_MEMORY_MB: must be at least 1024 megabytes ${hint}`]);
    expect(problemsOf({ ...base, WORKER_MEMORY_MB: '2000000' })).toEqual([`WORKER_MEMORY_MB: must be at most 1048576 megabytes ${hint}`]);
  });

  test('set together with WORKER_MAX_CACHED_WORKFLOWS, the worker refuses to start rather than pick one', () => {
    expect(problemsOf({ ...base, WORKER_MEMORY_MB: '6144', WORKER_MAX_CACHED_WORKFLOWS: '20000' })).toEqual([
      expect.stringMatching(/^WORKER_MEMORY_MB: set WORKER_MEMORY_MB or WORKER_MAX_CACHED_WORKFLOWS, not both /),
    ]);
    expect(loadConfig({ ...base, WORKER_MAX_CACHED_WORKFLOWS: '20000' })).toMatchObject({ workerMemoryMb: undefined, workerMaxCachedWorkflows: 20_000 });
  });

  test('the error never repeats what the variable was set to', () => {
    const secret = 'Zq8vS3cr3tK3yMat3r1al0fAn4p1Key0x';
    const problems = problemsOf({ ...base, WORKER_MEMORY_MB: secret });
    expect(problems).toEqual([expect.stringMatching(/^WORKER_MEMORY_MB: must be a whole number of megabytes/)]);
    expect(problems.join('\n')).not.toContain(secret);
  });
});
