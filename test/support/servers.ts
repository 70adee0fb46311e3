import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { workflowBundleOptions } from '../../worker/worker';
import { devServerDynamicConfigArgs } from '../../dev/dev-server';
import { type LocalPostgres, startLocalPostgres } from '../../dev/local-postgres';
import { CASE_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { type Keyring, newKeySpec, parseKeyring } from '../../platform/payload-codec';
import { caseDataConverter } from '../../platform/temporal';
import { caseSearchAttributeTypes } from '../../dev/temporal-cluster/namespace';
import { type ClusterTools, clusterToolsFromEnv } from '../../dev/temporal-cluster/tools';

/**
 * Real servers for the suites, each on free ports, each torn down by the suite that started it.
 * Tool paths come from dev/test.sh; run alone (npx jest), the same cached tools are located or built.
 */
const root = path.resolve(__dirname, '..', '..');
let tools: { cli: string; testServer: string } | undefined;

export function toolPaths(): { cli: string; testServer: string } {
  if (tools) return tools;
  let cli = process.env.TEMPORAL_CLI_PATH;
  let testServer = process.env.TEMPORAL_TEST_SERVER_PATH;
  if (!cli || !testServer) {
    const out = execFileSync('bash', [path.join(root, 'dev', 'tools.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    cli ??= /TEMPORAL_CLI_PATH=(.*)/.exec(out)?.[1];
    testServer ??= /TEMPORAL_TEST_SERVER_PATH=(.*)/.exec(out)?.[1];
  }
  if (!cli || !testServer) throw new Error('dev/tools.sh did not report the Temporal tool paths');
  tools = { cli, testServer };
  return tools;
}

let cluster: ClusterTools | undefined;

/**
 * The cluster topology's tools (the Temporal server, its SQL tool and schema, the UI server): from dev/test.sh's
 * environment, or located or built once (dev/tools.sh cluster) when a suite runs alone.
 */
export function clusterToolPaths(): ClusterTools {
  cluster ??= clusterToolsFromEnv();
  if (cluster) return cluster;
  const out = execFileSync('bash', [path.join(root, 'dev', 'tools.sh'), 'cluster'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const vars = Object.fromEntries([...out.matchAll(/^(TEMPORAL_\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
  cluster = clusterToolsFromEnv(vars);
  if (!cluster) throw new Error(`dev/tools.sh cluster did not report the cluster's tool paths:\n${out}`);
  return cluster;
}

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

import { freePort } from '../../dev/ports';

export { freePort } from '../../dev/ports';

export interface TestPostgres extends LocalPostgres {
  cleanup(): Promise<void>;
}

/** A fresh Postgres cluster in a temporary folder. */
export async function startPostgres(): Promise<TestPostgres> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sfe-test-pg-'));
  chmodSync(dir, 0o755); // Postgres may run as its own user (when we are root) and must enter the folder

  // A free port can be taken by another suite's server between freePort() and Postgres binding it: then
  // another port, a few times.
  let pg: LocalPostgres | undefined;
  for (let attempt = 1; !pg; attempt++) {
    try {
      pg = await startLocalPostgres({ dataDir: path.join(dir, `data-${attempt}`), port: await freePort(), database: 'sygedagpenge_test' });
    } catch (err) {
      if (attempt >= 3 || !String(err instanceof Error ? err.message : err).includes('Address already in use')) throw err;
    }
  }
  return {
    ...pg,
    async cleanup() {
      await pg.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The Temporal dev server (the real one, with visibility), with the case search attributes registered and the settings `npm run dev` uses. */
export async function startDevServer(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: toolPaths().cli },
      ip: '127.0.0.1',
      port: await freePort(),
      searchAttributes: [...CASE_SEARCH_ATTRIBUTES],
      extraArgs: devServerDynamicConfigArgs(),
      log: { format: 'pretty', level: 'error' },
    },
    client: { dataConverter: caseDataConverter(testKeyring().keyring) },
  });
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

/** One workflow bundle per test file. */
export function bundleCaseWorkflows(): Promise<{ code: string }> {
  return bundleWorkflowCode({ ...workflowBundleOptions(), logger: new DefaultLogger('WARN') });
}
