import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { newKeySpec, parseKeyring } from '../platform/payload-codec';
import { caseDataConverter } from '../platform/temporal';
import { workflowBundleOptions } from '../worker/worker';
import { addDays, copenhagenDate } from '../workflows/domain/dates';
import { type CaseEvent, type PolicyRevision } from '../workflows/domain/types';
import { applyPolicyUpdate, caseWorkflowId, reportEventUpdate } from '../workflows/messages';
import { startStack } from '../dev/stack';
import { commandLine, numberOption } from '../cli/command-line';

/**
 * What a case kept in the worker's workflow cache costs (issue #14, part 4), from heap snapshots rather than
 * RSS: the worker runs its workflows in its own thread (debugMode), a snapshot is taken with the cache
 * empty and again with N cases cached (each with a few events and a policy, as a case mid-year), and the
 * difference is broken down by what holds it (constructor or string), divided by N.
 *
 *   npm run bench:memory -- --cases 1000
 */
const USAGE = `usage: npm run bench:memory -- [--cases N]

  --cases N   cases to hold in the cache (default 1000)`;
const { values } = commandLine('bench:memory', USAGE, { cases: { type: 'string' } }, { positionals: false });
const cases = numberOption('bench:memory', USAGE, 'cases', values.cases, 1000);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

interface Totals {
  bytes: number;
  byName: Map<string, { count: number; bytes: number }>;
  /** Strings by their first 48 characters (digits as #): which texts the cases hold. */
  strings: Map<string, { count: number; bytes: number }>;
}

/** Sums a heap snapshot's nodes by type and name: `object:Foo` for objects of class Foo, `string` for strings, and so on. */
function summarise(file: string): Totals {
  const snapshot = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = [fields.indexOf('type'), fields.indexOf('name'), fields.indexOf('self_size')];
  const byName = new Map<string, { count: number; bytes: number }>();
  const strings = new Map<string, { count: number; bytes: number }>();
  let bytes = 0;
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    const type = types[snapshot.nodes[i + typeAt]!]!;
    const size = snapshot.nodes[i + sizeAt]!;
    const name = type === 'object' || type === 'closure' || type === 'code' ? `${type}:${snapshot.strings[snapshot.nodes[i + nameAt]!]!.slice(0, 60)}` : type;
    const entry = byName.get(name) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += size;
    byName.set(name, entry);
    bytes += size;
    if (type === 'string' || type === 'concatenated string') {
      const text = snapshot.strings[snapshot.nodes[i + nameAt]!]!.slice(0, 48).replace(/\d/g, '#');
      const s = strings.get(text) ?? { count: 0, bytes: 0 };
      s.count++;
      s.bytes += size;
      strings.set(text, s);
    }
  }
  return { bytes, byName, strings };
}

function snapshot(label: string): Totals {
  gc();
  gc();
  const file = writeHeapSnapshot(path.join(os.tmpdir(), `sfe-memory-${label}-${process.pid}.heapsnapshot`));
  const totals = summarise(file);
  rmSync(file);
  return totals;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  // The dev server from the one stack harness; the worker runs in this process, whose heap is what is measured.
  const keySpec = newKeySpec('bench');
  const keyring = parseKeyring(keySpec);
  const stack = await startStack({ postgres: false, workers: 0, apis: 0, payloadKeys: keySpec, temporalDb: 'memory' });
  const env = { client: stack.client, nativeConnection: await NativeConnection.connect(stack.temporalConnection) };
  const taskQueue = 'bench-memory';
  // As the worker's production process: without the SDK's stack-capturing promise hook unless asked
  // (WORKER_WORKFLOW_STACK_TRACES=on; worker/worker.ts). The hook keeps a stack for every pending promise.
  process.env.WORKER_WORKFLOW_STACK_TRACES = process.env.WORKER_WORKFLOW_STACK_TRACES === 'on' ? 'on' : 'off';
  process.stdout.write(`the SDK's workflow stack traces: ${process.env.WORKER_WORKFLOW_STACK_TRACES}\n`);
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    ...workflowBundleOptions(),
    bundlerOptions: { preloadModules: workflowBundleOptions().preloadModules },
    dataConverter: caseDataConverter(keyring),
    activities: { recordCaseSnapshot: async () => undefined, policiesPublishedAfter: async () => [] },
    maxCachedWorkflows: cases + 100,
    // Workflows run in this thread, so this thread's heap snapshot holds them.
    debugMode: true,
  });
  await worker.runUntil(async () => {
    const F = addDays(copenhagenDate(Date.now()), -30);
    // One case first, so the bundle's modules and the shared context are in the baseline.
    const startCase = async (i: number) => {
      const caseId = `MEM-${i}`;
      const handle = await env.client.workflow.start('caseWorkflow', {
        workflowId: caseWorkflowId(caseId),
        taskQueue,
        args: [{ facts: { caseId, citizenRef: `REF-${i}`, municipality: '101', firstAbsenceDay: F, employment: 'employee' as const } }],
      });
      const report = (e: Record<string, unknown>) => handle.executeUpdate(reportEventUpdate, { args: [{ eventId: `${caseId}-${String(e.type)}`, ...e } as CaseEvent] });
      await report({ type: 'categorized', category: 2, occurredOn: addDays(F, 5) });
      await report({ type: 'certificate-requested', occurredOn: addDays(F, 10) });
      await report({ type: 'conversation-held', mode: 'in-person', occurredOn: addDays(F, 20) });
      return handle;
    };
    const policy: PolicyRevision = {
      policyId: 'memory-pause',
      revision: 1,
      title: 'Opfølgning i bero',
      effectiveFrom: addDays(F, 25),
      effectiveTo: null,
      scope: { type: 'all' },
      effects: [{ type: 'pauseDeadlines', kinds: ['follow-up-conversation'] }],
    };
    await (await startCase(0)).executeUpdate(applyPolicyUpdate, { args: [policy] });
    const before = snapshot('before');
    const started = Date.now();
    for (let i = 1; i <= cases; i += 20) {
      await Promise.all(
        Array.from({ length: Math.min(20, cases - i + 1) }, async (_, k) => (await startCase(i + k)).executeUpdate(applyPolicyUpdate, { args: [policy] })),
      );
    }
    process.stdout.write(`${cases} cases started and changed in ${((Date.now() - started) / 1000).toFixed(0)} s; cached: ${worker.getStatus().numCachedWorkflows}\n`);
    const after = snapshot('after');
    const perCase = (after.bytes - before.bytes) / cases;
    process.stdout.write(`live heap: ${(before.bytes / 1e6).toFixed(1)} MB with one case, ${(after.bytes / 1e6).toFixed(1)} MB with ${cases + 1}: ${(perCase / 1024).toFixed(1)} kB a cached case\n\n`);
    const rows = [...after.byName]
      .map(([name, a]) => {
        const b = before.byName.get(name) ?? { count: 0, bytes: 0 };
        return { name, count: (a.count - b.count) / cases, bytes: (a.bytes - b.bytes) / cases };
      })
      .filter((r) => r.bytes > 64)
      .sort((x, y) => y.bytes - x.bytes)
      .slice(0, 25);
    process.stdout.write('what a cached case adds (per case; self sizes, by kind and constructor):\n');
    for (const r of rows) process.stdout.write(`  ${(r.bytes / 1024).toFixed(2).padStart(8)} kB  ${r.count.toFixed(1).padStart(7)} ×  ${r.name}\n`);
    const texts = [...after.strings]
      .map(([text, a]) => ({ text, count: (a.count - (before.strings.get(text)?.count ?? 0)) / cases, bytes: (a.bytes - (before.strings.get(text)?.bytes ?? 0)) / cases }))
      .filter((r) => r.bytes > 64)
      .sort((x, y) => y.bytes - x.bytes)
      .slice(0, 15);
    process.stdout.write('\nthe strings a cached case adds (per case, by their first 48 characters):\n');
    for (const r of texts) process.stdout.write(`  ${(r.bytes / 1024).toFixed(2).padStart(8)} kB  ${r.count.toFixed(1).padStart(7)} ×  ${JSON.stringify(r.text)}\n`);
  });
  await env.nativeConnection.close();
  await stack.stop();
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:memory: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
