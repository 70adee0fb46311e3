import { startProcessSystem, type ProcessSystem } from '../support/processes';
import { faultScenarios } from '../support/fault-scenarios';

/**
 * Faults injected into the real servers while policies fan out, on the Temporal dev server with one worker
 * and one API (test/support/fault-scenarios.ts; the same scenarios on the cluster: cluster.test.ts).
 * (A case started from a registry copy older than a finished fan-out: test/integration/policies.test.ts.)
 */
let system: ProcessSystem;

beforeAll(async () => {
  // 40 signals a second: a fan-out over 60 cases takes about 1.5 s, long enough to be hit in the middle.
  system = await startProcessSystem({ taskQueue: 'faults', signalsPerSecond: 40 });
});

afterAll(async () => {
  await system?.stop();
});

faultScenarios(() => system);
