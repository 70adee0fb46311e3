import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { bundleCaseWorkflows, quietRuntime } from '../support/servers';

/**
 * Replays stored histories of the policy fan-out (fanout-histories/<version>/, record-fanout-histories.ts)
 * against the current code. v1 was recorded before `fanout-bounded-history` and `fanout-wait-at-least-lag`: a
 * fan-out running that code when a worker with the hand-overs between pages and counts takes it over must
 * replay as it ran. `long-pass-run1` holds one pass of more than 2,000 events, so the current code reaches its
 * hand-over check with the history over the bound there and must leave it, as the old run did.
 */
const dir = path.join(__dirname, 'fanout-histories');
const files = readdirSync(dir).flatMap((version) =>
  readdirSync(path.join(dir, version))
    .filter((f) => f.endsWith('.binpb'))
    .sort()
    .map((f) => `${version}/${f}`),
);
const load = (file: string) => temporal.api.history.v1.History.decode(readFileSync(path.join(dir, file)));
const { EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW, EVENT_TYPE_MARKER_RECORDED } = temporal.api.enums.v1.EventType;

let bundle: Promise<{ code: string }> | undefined;

test('the stored fan-out histories include one pass past the old bound, a hand-over between passes, and one by signals', () => {
  expect(files).toEqual(expect.arrayContaining(['v1/by-signal-run1.binpb', 'v1/by-update-run1.binpb', 'v1/long-pass-run1.binpb', 'v1/long-pass-run2.binpb']));
  const long = load('v1/long-pass-run1.binpb');
  expect(long.events.length).toBeGreaterThan(2_000);
  expect(long.events.at(-1)!.eventType).toBe(EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW);
  // By signal: recorded without the fanout-by-update marker, as such a fan-out ran.
  expect(load('v1/by-signal-run1.binpb').events.filter((e) => e.eventType === EVENT_TYPE_MARKER_RECORDED)).toHaveLength(0);
});

test.each(files)('fan-out %s replays without non-determinism', async (file) => {
  quietRuntime();
  bundle ??= bundleCaseWorkflows();
  await Worker.runReplayHistory({ workflowBundle: await bundle }, load(file), `fanout-${file.replace(/\.binpb$/, '').replace('/', '-')}`);
});
