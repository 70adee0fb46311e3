import { execFileSync } from 'node:child_process';
import { type Server } from 'node:http';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { type Worker } from '@temporalio/worker';
import puppeteer, { type Browser } from 'puppeteer-core';
import { createActivities } from '../../activities';
import { createApp } from '../../api/app';
import { createDb, type Db, migrate } from '../../platform/db';
import { type Role } from '../../platform/config';
import { devServerDynamicConfigArgs } from '../../dev/dev-server';
import { createLogger } from '../../platform/logger';
import { createCaseWorker } from '../../worker/worker';
import { CASE_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { bundleCaseWorkflows, freePort, quietRuntime, startPostgres, type TestPostgres, testKeyring, toolPaths } from '../support/servers';
import { caseDataConverter } from '../../platform/temporal';

/**
 * What the browser tests run against: the real Temporal dev server serving its Web UI (the UI a caseworker
 * opens), Postgres, a worker and the API, each on free ports, and a headless Chromium (dev/tools/browser.sh
 * finds or installs it; run alone, the test asks that script too).
 */
const root = path.resolve(__dirname, '..', '..');

/** Where the screenshots go, for a reviewer to look at (README, Tests). */
export const SCREENSHOT_DIR = path.join(root, 'test-results', 'screenshots');

export function chromiumPath(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  const out = execFileSync('bash', ['-c', 'source dev/tools/browser.sh && ensure_chromium && echo "CHROMIUM_PATH=$CHROMIUM_PATH"'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const found = /CHROMIUM_PATH=(.*)/.exec(out)?.[1];
  if (!found) throw new Error('dev/tools/browser.sh did not report a Chromium');
  return found;
}

export function launchBrowser(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    // As root (CI, this machine) Chromium refuses its sandbox; /dev/shm is small in containers.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--lang=da-DK'],
    defaultViewport: { width: 1400, height: 900 },
  });
}

export interface UiSystem {
  env: TestWorkflowEnvironment;
  db: Db;
  pg: TestPostgres;
  /** The API, e.g. http://127.0.0.1:41234; also its public URL, so the details link to it. */
  base: string;
  /** The Temporal Web UI. */
  ui: string;
  keys: Record<Role, string>;
  api(method: string, path: string, body?: unknown, role?: Role): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

export async function startSystemWithUi(taskQueue: string): Promise<UiSystem> {
  quietRuntime();
  const [uiPort, apiPort] = [await freePort(), await freePort()];
  const [pg, env] = await Promise.all([
    startPostgres(),
    TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: toolPaths().cli },
        ip: '127.0.0.1',
        port: await freePort(),
        ui: true,
        uiPort,
        searchAttributes: [...CASE_SEARCH_ATTRIBUTES],
        // The UI decodes the encrypted payloads through the API's codec server, as in `npm run dev`.
        extraArgs: [...devServerDynamicConfigArgs(), '--ui-codec-endpoint', `http://127.0.0.1:${apiPort}/codec`],
        log: { format: 'pretty', level: 'error' },
      },
      client: { dataConverter: caseDataConverter(testKeyring().keyring) },
    }),
  ]);
  const db = createDb(pg.url);
  await migrate(db);
  const logger = createLogger('warn', {}, () => undefined);
  const worker: Worker = await createCaseWorker({
    connection: env.nativeConnection,
    namespace: 'default',
    taskQueue,
    workflowBundle: await bundleCaseWorkflows(),
    activities: createActivities({ db, logger, client: env.client }),
    keyring: testKeyring().keyring,
  });
  const running = worker.run();
  const address = (env.connection as unknown as { options: { address: string } }).options.address;
  const ui = `http://127.0.0.1:${uiPort}`;
  const base = `http://127.0.0.1:${apiPort}`;
  const keys: Record<Role, string> = { 'case-system': 'browser-key-case-system-01', ops: 'browser-key-ops-000000001', reader: 'browser-key-reader-0000001' };
  const app = createApp({
    client: env.client,
    db,
    apiKeys: Object.entries(keys).map(([role, key]) => ({ role: role as Role, key })),
    writeRatePerSecond: 10_000,
    temporal: { address, namespace: 'default', taskQueue, uiUrl: ui },
    logger,
    fanoutVisibilityLagMs: 1_000,
    publicUrl: base,
    codec: { keyring: testKeyring().keyring, corsOrigins: [ui] },
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(apiPort, '127.0.0.1', () => resolve(s));
  });
  return {
    env,
    db,
    pg,
    base,
    ui,
    keys,
    async api(method, urlPath, body, role = urlPath.startsWith('/api/v1/policy-changes') ? 'ops' : 'case-system') {
      const res = await fetch(`${base}${urlPath}`, {
        method,
        headers: { authorization: `Bearer ${keys[role]}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    },
    async stop() {
      await new Promise((resolve) => server.close(resolve));
      worker.shutdown();
      await running;
      await env.teardown();
      await db.close();
      await pg.cleanup();
    },
  };
}
