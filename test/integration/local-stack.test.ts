import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { copenhagenDate } from '../../workflows/domain/dates';
import { freePort, toolPaths } from '../support/servers';
import { alive, descendants, startLocalStack, stop, until } from '../support/local-stack';

/**
 * The README's first command runs dev/local-stack.ts (built to dist/ by the global setup). Here it runs on free ports
 * with its own data folder: it comes up, serves the API and the UI, stops every child on SIGTERM, and
 * a second start still has the case.
 */
let dataDir: string;
let ports: { temporal: number; ui: number; api: number; pg: number };

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'sfe-stack-'));
  chmodSync(dataDir, 0o755);
  ports = { temporal: await freePort(), ui: await freePort(), api: await freePort(), pg: await freePort() };
});

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

const startStack = () =>
  startLocalStack([], {
    SFE_DATA_DIR: dataDir,
    TEMPORAL_CLI_PATH: toolPaths().cli,
    TEMPORAL_PORT: String(ports.temporal),
    TEMPORAL_UI_PORT: String(ports.ui),
    PORT: String(ports.api),
    LOCAL_PG_PORT: String(ports.pg),
  });

test('one command runs Temporal with its UI, Postgres, the worker and the API; SIGTERM stops all; data survives', async () => {
  const first = startStack();
  const api = `http://127.0.0.1:${ports.api}`;
  // The addresses are printed once the API answers ready, so a client may start as soon as it sees them.
  await until(async () => first.output().includes('Development API keys'), 'the addresses to be printed', first.output);
  expect((await fetch(`${api}/readyz`)).status).toBe(200);
  expect((await fetch(`http://127.0.0.1:${ports.ui}/`)).status).toBe(200);
  expect(first.output()).toContain(`Temporal UI   http://localhost:${ports.ui}`);
  expect(first.output()).toContain(`API           http://localhost:${ports.api}`);

  // The development keys are printed and kept in the data folder; nothing is open without one.
  const keys = JSON.parse(readFileSync(path.join(dataDir, 'api-keys.json'), 'utf8')) as Record<string, string>;
  expect(first.output()).toContain(`case-system  ${keys['case-system']}`);
  const auth = { authorization: `Bearer ${keys['case-system']}` };
  const body = { caseId: 'STACK-1', citizenRef: 'REF-S', municipality: '101', firstAbsenceDay: copenhagenDate(Date.now()) };
  expect((await fetch(`${api}/api/v1/cases`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).status).toBe(401);
  const created = await fetch(`${api}/api/v1/cases`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(body) });
  expect(created.status).toBe(201);

  const children = descendants(first.child.pid!);
  expect(children.length).toBeGreaterThanOrEqual(4); // postgres, temporal, worker, api (and their helpers)
  expect(await stop(first.child)).toBe(0);
  expect(children.filter((p) => alive(p.pid))).toEqual([]);

  const second = startStack();
  await until(async () => second.output().includes('Development API keys'), 'the addresses to be printed again', second.output);
  const read = await fetch(`${api}/api/v1/cases/STACK-1`, { headers: auth });
  expect(read.status).toBe(200);
  expect(await read.json()).toMatchObject({ caseId: 'STACK-1', municipality: '101', status: 'open' });
  const again = descendants(second.child.pid!);
  expect(await stop(second.child)).toBe(0);
  expect(again.filter((p) => alive(p.pid))).toEqual([]);
});
