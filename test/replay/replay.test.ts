import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { bundleCaseWorkflows, quietRuntime } from '../support/servers';

/**
 * Replays every stored history of the case workflow against the current code. A change that would make
 * running cases fail on replay (a non-determinism error) fails here; guard such changes with patched()
 * (see the README) and record a new history with `npm run histories:record -- <version>`.
 */
const dir = path.join(__dirname, 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.binpb')).sort();

test('there are stored histories to replay', () => {
  expect(files.length).toBeGreaterThan(0);
});

test.each(files)('%s replays without non-determinism', async (file) => {
  quietRuntime();
  const history = temporal.api.history.v1.History.decode(readFileSync(path.join(dir, file)));
  expect(history.events.length).toBeGreaterThan(20);
  // The sink is registered as in the worker; a replay calls none (callDuringReplay: false).
  const sinks = { readModel: { write: { fn: () => undefined, callDuringReplay: false } } };
  await Worker.runReplayHistory({ workflowBundle: await bundleCaseWorkflows(), sinks }, history, file.replace(/\.binpb$/, ''));
});
