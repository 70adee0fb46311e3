import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { temporal } from '@temporalio/proto';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, type ReplayWorkerOptions, Runtime, Worker } from '@temporalio/worker';
import { startStack } from '../dev/stack';
import { newKeySpec, parseKeyring } from '../platform/payload-codec';
import { caseDataConverter } from '../platform/temporal';
import { workflowBundleOptions } from '../worker/worker';
import { addDays, copenhagenDate } from '../workflows/domain/dates';
import { type CaseEvent } from '../workflows/domain/types';
import { caseWorkflowId, reportEventUpdate } from '../workflows/messages';
import { commandLine, numberOption, usageError } from '../cli/command-line';

/**
 * What it costs the worker to replay a case it no longer holds in its cache (issue #14): a national policy
 * that reaches 100,000 cases replays most of them. Two measurements:
 *
 * - By default, the stored case histories (test/replay: the released versions and the corpus, which holds
 *   every event type and policy effect), replayed over and over, once with the SDK's workflow stack traces on
 *   and once off (WORKER_WORKFLOW_STACK_TRACES, patches/npm), each in a process of its own because the SDK
 *   installs its promise hook once per thread. Prints the CPU time per replay and per history event.
 * - With --lengths (issue #21): what a replay costs against the length of the run's history, which the case
 *   workflow bounds by continuing as new (maxHistoryEvents). Real runs on the dev server (payloads encrypted, as
 *   the worker runs) record one case for each length, and a run that continued as new; a process of its own
 *   then replays each, with the stack traces off as the worker runs them. The recording worker keeps its cases
 *   cached in its own thread, so the live heap of a cached run of each length is measured too.
 *
 *   npm run bench:replay -- --rounds 20
 *   npm run bench:replay -- --lengths 50,100,200,500,1000,2000,4000
 */
const USAGE = `usage: npm run bench:replay -- [--rounds N] [--lengths L1,L2,...] [--copies N] [--continue-at N]

  --rounds N        times every history is replayed (default 20); with --lengths, each history is replayed at least
                    this often and a short one as often as it takes to replay N × 1,000 events
  --lengths L1,...  record cases whose run's history has about these many events on the dev server and replay them,
                    instead of the stored histories
  --copies N        with --lengths: cases of each length held in the recording worker's cache, whose live heap is
                    divided among them (default 10)
  --continue-at N   with --lengths: the maxHistoryEvents of the case recorded to continue as new, whose new run is
                    replayed too (default 1000)`;
const { values } = commandLine(
  'bench:replay',
  USAGE,
  { rounds: { type: 'string' }, lengths: { type: 'string' }, copies: { type: 'string' }, 'continue-at': { type: 'string' }, child: { type: 'string' }, histories: { type: 'string' } },
  { positionals: false },
);
const rounds = numberOption('bench:replay', USAGE, 'rounds', values.rounds, 20);
const copies = Math.max(1, numberOption('bench:replay', USAGE, 'copies', values.copies, 10));
const continueAt = numberOption('bench:replay', USAGE, 'continue-at', values['continue-at'], 1_000);
const lengths = values.lengths?.split(',').map((l) => {
  const n = Number(l);
  if (!Number.isInteger(n) || n < 20) usageError('bench:replay', USAGE, `--lengths takes whole numbers of history events, at least 20 each, not '${l}'`);
  return n;
});

interface Result {
  mode: string;
  replays: number;
  events: number;
  cpuMs: number;
  wallMs: number;
}

const replayDir = path.join(__dirname, '..', '..', 'test', 'replay');
/** Where the recording server suggests a new run by size: below its 50 MB limit, past the lengths recorded. */
const SUGGEST_AT_BYTES = 48 * 1024 * 1024;
/** The payload keys of the recorded histories, handed to the replaying process. */
const KEYS_VARIABLE = 'BENCH_REPLAY_PAYLOAD_KEYS';

function storedHistories(): temporal.api.history.v1.History[] {
  const files = [
    ...readdirSync(path.join(replayDir, 'histories')).map((f) => path.join(replayDir, 'histories', f)),
    ...readdirSync(path.join(replayDir, 'corpus')).flatMap((v) => readdirSync(path.join(replayDir, 'corpus', v)).map((f) => path.join(replayDir, 'corpus', v, f))),
  ].filter((f) => f.endsWith('.binpb'));
  return files.sort().map((f) => temporal.api.history.v1.History.decode(readFileSync(f)));
}

type History = temporal.api.history.v1.IHistory;

/**
 * A replay worker over `histories`, run `n` times each; the bundle built once. A history's payloads are bound to
 * the workflow they were written for (platform/payload-binding.ts), so an encrypted one is replayed under its
 * own workflow id (`workflowIds`).
 */
async function replayer(options: Partial<ReplayWorkerOptions> = {}) {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const bundle = await bundleWorkflowCode({ ...workflowBundleOptions(), logger: new DefaultLogger('WARN') });
  const sinks = { readModel: { write: { fn: () => undefined, callDuringReplay: false } } };
  return async (histories: History[], n: number, workflowIds?: string[]) => {
    async function* all() {
      for (let r = 0; r < n; r++) for (const [i, history] of histories.entries()) yield { workflowId: workflowIds?.[i] ?? `replay-${r}-${i}`, history };
    }
    for await (const result of Worker.runReplayHistories({ workflowBundle: bundle, sinks, ...options }, all())) {
      if (result.error) throw result.error;
    }
  };
}

/** CPU and wall time of `n` replays of each history, this process's threads together. */
async function timed(
  run: (histories: History[], n: number, workflowIds?: string[]) => Promise<void>,
  histories: History[],
  n: number,
  mode: string,
  workflowIds?: string[],
): Promise<Result> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await run(histories, n, workflowIds);
  const used = process.cpuUsage(cpu);
  return {
    mode,
    replays: n * histories.length,
    events: n * histories.reduce((sum, h) => sum + (h.events?.length ?? 0), 0),
    cpuMs: (used.user + used.system) / 1000,
    wallMs: performance.now() - started,
  };
}

async function measureStored(mode: string): Promise<Result> {
  const run = await replayer();
  const histories = storedHistories();
  await run(histories, 1); // warm up: the bundle's code compiled, the thread started
  return timed(run, histories, rounds, mode);
}

/** Replays each recorded history (its file's name is its label) as often as `replaysOf` says. */
async function measureRecorded(dir: string): Promise<Record<string, Result>> {
  const keys = process.env[KEYS_VARIABLE];
  if (!keys) throw new Error(`${KEYS_VARIABLE} is not set`);
  const run = await replayer({ dataConverter: caseDataConverter(parseKeyring(keys), 'mark') });
  const workflowIdOf = JSON.parse(readFileSync(path.join(dir, 'workflow-ids.json'), 'utf8')) as Record<string, string>;
  const labels = Object.keys(workflowIdOf).sort();
  const histories = labels.map((label) => temporal.api.history.v1.History.decode(readFileSync(path.join(dir, `${label}.binpb`))));
  const workflowIds = labels.map((label) => workflowIdOf[label]!);
  await run(histories, 1, workflowIds);
  const results: Record<string, Result> = {};
  for (const [i, history] of histories.entries()) {
    results[labels[i]!] = await timed(run, [history], replaysOf(history.events.length), labels[i]!, [workflowIds[i]!]);
  }
  return results;
}

const replaysOf = (events: number) => Math.max(rounds, Math.ceil((rounds * 1000) / events));

async function main(): Promise<void> {
  if (values.child === 'recorded') {
    process.stdout.write(`${JSON.stringify(await measureRecorded(values.histories!))}\n`);
    return;
  }
  if (values.child) {
    process.stdout.write(`${JSON.stringify(await measureStored(values.child))}\n`);
    return;
  }
  if (lengths) return byLength(lengths);
  const results = (['on', 'off'] as const).map((mode) => {
    const out = execFileSync(process.execPath, [__filename, '--rounds', String(rounds), '--child', mode], {
      env: { ...process.env, WORKER_WORKFLOW_STACK_TRACES: mode },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    return JSON.parse(out.trim().split('\n').pop()!) as Result;
  });
  const on = results[0]!;
  process.stdout.write(`bench:replay  ${on.replays} replays of ${on.replays / rounds} stored histories (${on.events} events), per mode\n`);
  process.stdout.write('stack traces | CPU ms / replay | CPU µs / event | wall ms / replay\n');
  for (const r of results) {
    process.stdout.write(`${r.mode.padEnd(12)} | ${(r.cpuMs / r.replays).toFixed(1).padStart(15)} | ${((r.cpuMs * 1000) / r.events).toFixed(0).padStart(14)} | ${(r.wallMs / r.replays).toFixed(1).padStart(16)}\n`);
  }
}

/** What a recorded run holds: its history's events, workflow tasks and bytes, and the case events it applied. */
interface Recorded {
  label: string;
  events: number;
  workflowTasks: number;
  bytes: number;
  caseEvents: number;
  /** Live heap a cached run of this length holds, in kB (the copies' growth divided among them). */
  heapKb?: number;
}

const EventType = temporal.api.enums.v1.EventType;

function describeHistory(label: string, history: History, caseEvents: number): Recorded {
  const events = history.events ?? [];
  return {
    label,
    events: events.length,
    workflowTasks: events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED).length,
    bytes: temporal.api.history.v1.History.encode(history).finish().length,
    caseEvents,
  };
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const liveHeap = () => {
  gc();
  gc();
  return getHeapStatistics().used_heap_size;
};

/**
 * Records the histories of --lengths on the dev server, then replays them in a process of their own and prints
 * CPU per replay and per event against the history's length.
 */
async function byLength(targets: number[]): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const keySpec = newKeySpec('bench');
  const keyring = parseKeyring(keySpec);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sfe-replay-'));
  // Each change writes the whole timeline into the history, so a case's history passes the 4 MB at which
  // Temporal suggests a new run long before thousands of events; here only the lengths asked for end a run.
  const stack = await startStack({
    postgres: false,
    workers: 0,
    apis: 0,
    payloadKeys: keySpec,
    temporalDb: 'memory',
    temporalArgs: ['--dynamic-config-value', `limit.historySize.suggestContinueAsNew=${SUGGEST_AT_BYTES}`],
  });
  const env = { address: stack.address, client: stack.client, nativeConnection: await NativeConnection.connect(stack.temporalConnection) };
  // A long case's history comes in pages larger than gRPC's default 4 MB a message.
  const reader = new Client({ connection: await Connection.connect({ address: env.address, channelArgs: { 'grpc.max_receive_message_length': 256 * 1024 * 1024 } }) });
  const historyOf = (workflowId: string, runId?: string) => reader.workflow.getHandle(workflowId, runId).fetchHistory();
  const taskQueue = 'bench-replay';
  // As the worker's production process; the replaying process is started the same way.
  process.env.WORKER_WORKFLOW_STACK_TRACES = 'off';
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    ...workflowBundleOptions(),
    bundlerOptions: { preloadModules: workflowBundleOptions().preloadModules },
    dataConverter: caseDataConverter(keyring, 'mark'),
    activities: { recordCaseSnapshot: async () => undefined, policiesPublishedAfter: async () => [] },
    maxCachedWorkflows: 1_000 + targets.length * copies,
    // Workflows run in this thread, so this thread's heap holds the cached runs.
    debugMode: true,
  });
  const recorded: Recorded[] = [];
  const workflowIds: Record<string, string> = {};
  const F = addDays(copenhagenDate(Date.now()), -60);
  const today = copenhagenDate(Date.now());
  /** A follow-up's events, in turn: certificates asked for and received, forms, conversations. */
  const nextEvent = (caseId: string, n: number): CaseEvent => {
    const base = { eventId: `${caseId}-${n}`, occurredOn: today };
    const kinds: CaseEvent[] = [
      { ...base, type: 'certificate-requested' },
      { ...base, type: 'certificate-received', validUntil: addDays(today, 28) },
      { ...base, type: 'information-form-received' },
      { ...base, type: 'conversation-held', mode: 'phone' },
    ];
    return kinds[n % kinds.length]!;
  };
  const start = (caseId: string, maxHistoryEvents: number) =>
    env.client.workflow.start('caseWorkflow', {
      workflowId: caseWorkflowId(caseId),
      taskQueue,
      args: [{ facts: { caseId, citizenRef: `REF-${caseId}`, municipality: '101', firstAbsenceDay: F, employment: 'employee' as const }, maxHistoryEvents }],
    });
  const report = async (handle: WorkflowHandle, event: CaseEvent) => {
    await handle.executeUpdate(reportEventUpdate, { args: [event] }).catch((err: unknown) => {
      throw new Error(`${handle.workflowId} ${event.type}: ${(err as { cause?: Error }).cause?.message ?? String(err)}`);
    });
  };
  /** Waits until the run's history stops growing (its read-model write and the task after it are done). */
  const settled = async (handle: WorkflowHandle) => {
    let before = -1;
    for (;;) {
      const d = await handle.describe();
      if (d.historyLength === before && (d.raw.pendingActivities?.length ?? 0) === 0) return d;
      before = d.historyLength;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  };
  /** A case whose run's history reaches `target` events: categorised, then a follow-up's events one at a time. */
  const drive = async (caseId: string, target: number) => {
    const handle = await start(caseId, 1_000_000);
    await report(handle, { eventId: `${caseId}-0`, occurredOn: addDays(F, 5), type: 'categorized', category: 2 });
    let n = 1;
    for (;;) {
      const d = await handle.describe();
      // Temporal suggests a new run past its own history limits (continueAsNewSuggested), which the case follows.
      if (d.runId !== handle.firstExecutionRunId) throw new Error(`${caseId} continued as new before ${target} events, after ${n} case events`);
      if (d.historyLength >= target) break;
      await report(handle, nextEvent(caseId, n++));
    }
    await settled(handle);
    return { handle, caseEvents: n };
  };

  try {
    await worker.runUntil(async () => {
      await drive('REPLAY-warm', 50); // the bundle's modules and the shared context in the baseline
      for (const target of targets) {
        const before = liveHeap();
        // Every copy finishes before a failure is thrown: the server is not torn down under calls still in flight.
        const settledCases = await Promise.allSettled(Array.from({ length: copies }, (_, k) => drive(`REPLAY-${target}-${k}`, target)));
        const failed = settledCases.find((c) => c.status === 'rejected');
        if (failed) throw failed.reason;
        const cases = settledCases.map((c) => (c as PromiseFulfilledResult<Awaited<ReturnType<typeof drive>>>).value);
        const heapKb = (liveHeap() - before) / copies / 1024;
        const { handle, caseEvents } = cases[0]!;
        const history = await historyOf(handle.workflowId);
        const label = `length-${String(target).padStart(6, '0')}`;
        writeFileSync(path.join(dir, `${label}.binpb`), temporal.api.history.v1.History.encode(history).finish());
        workflowIds[label] = handle.workflowId;
        recorded.push({ ...describeHistory(label, history, caseEvents), heapKb });
        process.stdout.write(`recorded ${copies} cases of ${history.events?.length} history events (${caseEvents} case events each)\n`);
      }
      // A run that continued as new: its new run's first history is what a continue-as-new adds.
      const can = 'REPLAY-continued';
      const handle = await start(can, continueAt);
      const firstRunId = handle.firstExecutionRunId;
      await report(handle, { eventId: `${can}-0`, occurredOn: addDays(F, 5), type: 'categorized', category: 2 });
      let n = 1;
      while ((await handle.describe()).runId === firstRunId) await report(handle, nextEvent(can, n++));
      const latest = await settled(env.client.workflow.getHandle(caseWorkflowId(can)));
      const history = await historyOf(caseWorkflowId(can), latest.runId);
      const previous = await historyOf(caseWorkflowId(can), firstRunId);
      const label = 'new-run';
      writeFileSync(path.join(dir, `${label}.binpb`), temporal.api.history.v1.History.encode(history).finish());
      workflowIds[label] = caseWorkflowId(can);
      recorded.push(describeHistory(label, history, n));
      process.stdout.write(
        `recorded a case that continued as new past ${continueAt} events: its first run ${previous.events?.length} events, the new run ${history.events?.length} until idle (${n} case events carried)\n`,
      );
    });
  } finally {
    await reader.connection.close();
    await env.nativeConnection.close();
    await stack.stop();
  }
  writeFileSync(path.join(dir, 'workflow-ids.json'), JSON.stringify(workflowIds));

  const out = execFileSync(process.execPath, [__filename, '--rounds', String(rounds), '--child', 'recorded', '--histories', dir], {
    env: { ...process.env, WORKER_WORKFLOW_STACK_TRACES: 'off', [KEYS_VARIABLE]: keySpec },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  rmSync(dir, { recursive: true, force: true });
  const results = JSON.parse(out.trim().split('\n').pop()!) as Record<string, Result>;
  process.stdout.write(`\nbench:replay --lengths  stack traces off; each history replayed at least ${rounds} times\n`);
  process.stdout.write('history events | workflow tasks | case events | history kB | replays | CPU ms / replay | CPU µs / event | wall ms / replay | live heap kB / cached run\n');
  for (const r of recorded) {
    const m = results[r.label]!;
    const label = r.label === 'new-run' ? `${r.events} (new run)` : String(r.events);
    process.stdout.write(
      [
        label.padStart(14),
        String(r.workflowTasks).padStart(14),
        String(r.caseEvents).padStart(11),
        (r.bytes / 1024).toFixed(1).padStart(10),
        String(m.replays).padStart(7),
        (m.cpuMs / m.replays).toFixed(1).padStart(15),
        ((m.cpuMs * 1000) / m.events).toFixed(0).padStart(14),
        (m.wallMs / m.replays).toFixed(1).padStart(16),
        (r.heapKb === undefined ? '-' : r.heapKb.toFixed(1)).padStart(25),
      ].join(' | ') + '\n',
    );
  }
}

main().catch((err) => {
  process.stderr.write(`bench:replay: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
