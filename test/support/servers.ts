import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { workflowBundleOptions } from '../../worker/worker';
import { type Keyring, newKeySpec, parseKeyring } from '../../platform/payload-codec';
import { caseSearchAttributeTypes } from '../../dev/temporal-cluster/namespace';
import { freePort } from '../../dev/ports';
import { addDays, copenhagenDate, startOfCopenhagenDay } from '../../workflows/domain/dates';
import { startStack } from '../../dev/stack';
import { clusterTools, engineTools } from '../../dev/stack/tools';

/**
 * What the suites share besides the stack (dev/stack.ts, test/support/system.ts and processes.ts): the tools, the
 * time-skipping test server, the payload keys, a Postgres alone, and the workflow bundle. Each server on free
 * ports, torn down by the suite that started it.
 * Tool paths come from dev/test.sh; run alone (npx jest), the same cached tools are located or built (dev/stack/tools.ts).
 */
/** The Temporal CLI and the time-skipping test server (dev/stack/tools.ts). */
export const toolPaths = engineTools;

/** The cluster topology's tools (dev/stack/tools.ts). */
export const clusterToolPaths = clusterTools;

let keyring: { spec: string; keyring: Keyring } | undefined;

/**
 * The payload keys of this test process (a new random key each run): tests encrypt as production does.
 * `spec` is the PAYLOAD_KEYS form, for processes the test starts.
 */
export function testKeyring(): { spec: string; keyring: Keyring } {
  if (!keyring) {
    const spec = newKeySpec('test-key');
    keyring = { spec, keyring: parseKeyring(spec) };
  }
  return keyring;
}

let runtimeInstalled = false;

/** Temporal's core logs warnings and errors only, so test output stays readable. */
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('WARN') });
}

export { freePort } from '../../dev/ports';

/** The read model's Postgres alone, from the one stack harness: a fresh cluster in a temporary folder, not migrated. */
export interface TestPostgres {
  url: string;
  cleanup(): Promise<void>;
}

export async function startPostgres(): Promise<TestPostgres> {
  const stack = await startStack({ temporal: false, migrate: false, database: 'sygedagpenge_test' });
  return { url: stack.databaseUrl, cleanup: () => stack.stop() };
}

/** The Java time-skipping test server from Maven Central, with the case search attributes registered. */
export async function startTimeSkipping(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  let env: TestWorkflowEnvironment | undefined;
  for (let attempt = 1; !env; attempt++) {
    try {
      env = await TestWorkflowEnvironment.createTimeSkipping({
        server: { executable: { type: 'existing-path', path: toolPaths().testServer }, port: await freePort() },
      });
    } catch (err) {
      // The SDK gives the server 5 s to answer (sdk-core's ephemeral_server, not configurable); a JVM on a
      // loaded machine can take longer to start. The SDK has killed the slow one; try again, twice at most.
      if (attempt >= 3 || !/did not start within/.test(String(err))) throw err;
    }
  }
  // As production and the cluster create them: through the operator API (dev/temporal-cluster/namespace.ts).
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: caseSearchAttributeTypes(),
  });
  return env;
}

/**
 * Moves the test server's clock to the next noon in Copenhagen. Whole-day sleeps from noon never land on
 * the other side of midnight, even across a DST switch. Call it before each test, not once: awaiting a
 * workflow's result lets the server skip to other open cases' timers (their wake-ups are at local midnight),
 * so a test leaves the clock at an hour no one chose.
 */
export async function toNextCopenhagenNoon(env: TestWorkflowEnvironment): Promise<void> {
  const now = await env.currentTimeMs();
  await env.sleep(startOfCopenhagenDay(addDays(copenhagenDate(now), 1)) + 12 * 3_600_000 - now);
}

/** One workflow bundle per test file. */
export function bundleCaseWorkflows(): Promise<{ code: string }> {
  return bundleWorkflowCode({ ...workflowBundleOptions(), logger: new DefaultLogger('WARN') });
}

/**
 * The time-skipping server with one worker of the case workflows on `taskQueue` and the test's `activities`
 * (stand-ins for Postgres, which a workflow test does not start). `stop` ends the worker, then the server.
 */
export async function startTimeSkippingWorker(
  taskQueue: string,
  activities: object,
): Promise<{ env: TestWorkflowEnvironment; worker: Worker; stop(): Promise<void> }> {
  const env = await startTimeSkipping();
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await bundleCaseWorkflows(), activities });
  const running = worker.run();
  return {
    env,
    worker,
    async stop() {
      worker.shutdown();
      await running;
      await env.teardown();
    },
  };
}
