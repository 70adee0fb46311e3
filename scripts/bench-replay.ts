import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { workflowBundleOptions } from '../worker/worker';
import { commandLine, numberOption } from './cli';

/**
 * What it costs the worker to replay a case it no longer holds in its cache (issue #14): a national policy
 * that reaches 100,000 cases replays most of them. Replays the stored case histories (test/replay: the
 * released versions and the corpus, which holds every event type and policy effect) over and over, once
 * with the SDK's workflow stack traces on and once off (WORKER_WORKFLOW_STACK_TRACES, patches/npm), each in a
 * process of its own because the SDK installs its promise hook once per thread, and prints the process's
 * CPU time per replay and per history event.
 *
 *   npm run bench:replay -- --rounds 20
 */
const USAGE = `usage: npm run bench:replay -- [--rounds N]

  --rounds N   times every stored history is replayed in each mode (default 20)`;
const { values } = commandLine('bench:replay', USAGE, { rounds: { type: 'string' }, child: { type: 'string' } }, { positionals: false });
const rounds = numberOption('bench:replay', USAGE, 'rounds', values.rounds, 20);

interface Result {
  mode: string;
  replays: number;
  events: number;
  cpuMs: number;
  wallMs: number;
}

const replayDir = path.join(__dirname, '..', '..', 'test', 'replay');

function storedHistories(): temporal.api.history.v1.History[] {
  const files = [
    ...readdirSync(path.join(replayDir, 'histories')).map((f) => path.join(replayDir, 'histories', f)),
    ...readdirSync(path.join(replayDir, 'corpus')).flatMap((v) => readdirSync(path.join(replayDir, 'corpus', v)).map((f) => path.join(replayDir, 'corpus', v, f))),
  ].filter((f) => f.endsWith('.binpb'));
  return files.sort().map((f) => temporal.api.history.v1.History.decode(readFileSync(f)));
}

async function measure(mode: string): Promise<Result> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const bundle = await bundleWorkflowCode({ ...workflowBundleOptions(), logger: new DefaultLogger('WARN') });
  const histories = storedHistories();
  const sinks = { readModel: { write: { fn: () => undefined, callDuringReplay: false } } };
  const run = async (n: number) => {
    async function* all() {
      for (let r = 0; r < n; r++) for (const [i, history] of histories.entries()) yield { workflowId: `replay-${r}-${i}`, history };
    }
    for await (const result of Worker.runReplayHistories({ workflowBundle: bundle, sinks }, all())) {
      if (result.error) throw result.error;
    }
  };
  await run(1); // warm up: the bundle's code compiled, the thread started
  const cpu = process.cpuUsage();
  const started = performance.now();
  await run(rounds);
  const used = process.cpuUsage(cpu);
  return {
    mode,
    replays: rounds * histories.length,
    events: rounds * histories.reduce((n, h) => n + h.events.length, 0),
    cpuMs: (used.user + used.system) / 1000,
    wallMs: performance.now() - started,
  };
}

async function main(): Promise<void> {
  if (values.child) {
    process.stdout.write(`${JSON.stringify(await measure(values.child))}\n`);
    return;
  }
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

main().catch((err) => {
  process.stderr.write(`bench:replay: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
