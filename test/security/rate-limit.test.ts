import { type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { createApp } from '../../api/app';
import { type Role } from '../../platform/config';
import { createLogger } from '../../platform/logger';
import { startSystem, type TestSystem } from '../support/system';

/**
 * Issue #23, part 4: a key's rate holds across API instances. Two instances behind one address, each told
 * there are two (API_INSTANCES=2), let one key make the configured rate in all, however its requests are
 * spread, for writes and for reads alike.
 */
let system: TestSystem;
const servers: Server[] = [];
const bases: string[] = [];
const RATE = 10;

beforeAll(async () => {
  system = await startSystem({ taskQueue: 'security-rate' });
  for (let i = 0; i < 2; i++) {
    const app = createApp({
      client: system.env.client,
      db: system.db,
      apiKeys: Object.entries(system.keys).map(([role, key]) => ({ role: role as Role, key })),
      writeRatePerSecond: RATE,
      readRatePerSecond: RATE,
      apiInstances: 2,
      temporal: { address: system.address, namespace: 'default', taskQueue: system.taskQueue, uiUrl: 'http://localhost:8233' },
      logger: createLogger('error', {}, () => undefined),
    });
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    servers.push(server);
    bases.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }
});

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await system?.stop();
});

/** Sends `count` requests alternating between the two instances; answers how many were let through, the refusals, and the seconds it took. */
async function hammer(count: number, request: (base: string) => Promise<Response>) {
  const started = Date.now();
  const answers = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      request(bases[i % 2]!).then(async (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after'), code: ((await r.json()) as { error?: { code: string } }).error?.code })),
    ),
  );
  const refused = answers.filter((a) => a.status === 429);
  return { passed: count - refused.length, refused, seconds: (Date.now() - started) / 1000 };
}

test('writes: two instances together let one key through at its configured burst and rate, not twice that', async () => {
  const body = JSON.stringify({ facts: { caseId: 'RATE-1', citizenRef: 'R', municipality: '101', firstAbsenceDay: '2024-01-01' } });
  const { passed, refused, seconds } = await hammer(8 * RATE, (base) =>
    fetch(`${base}/api/v1/timeline/simulate`, { method: 'POST', headers: { authorization: `Bearer ${system.keys['case-system']}`, 'content-type': 'application/json' }, body }),
  );
  // The burst is twice the rate in all (each instance holds half); whatever refilled while the requests ran on top.
  expect(passed).toBeGreaterThanOrEqual(2 * RATE);
  expect(passed).toBeLessThanOrEqual(2 * RATE + Math.ceil(RATE * seconds) + 2);
  expect(new Set(refused.map((r) => `${r.code} ${/^\d+$/.test(r.retryAfter ?? '') ? 'with Retry-After' : 'without'}`))).toEqual(new Set(['rate-limited with Retry-After']));
});

test('reads are rated too, in a bucket of their own', async () => {
  const { passed, refused, seconds } = await hammer(8 * RATE, (base) => fetch(`${base}/api/v1/policy-changes`, { headers: { authorization: `Bearer ${system.keys.reader}` } }));
  expect(passed).toBeGreaterThanOrEqual(2 * RATE);
  expect(passed).toBeLessThanOrEqual(2 * RATE + Math.ceil(RATE * seconds) + 2);
  expect(new Set(refused.map((r) => `${r.code} ${/^\d+$/.test(r.retryAfter ?? '') ? 'with Retry-After' : 'without'}`))).toEqual(new Set(['rate-limited with Retry-After']));
  // Another key has its own bucket.
  expect((await fetch(`${bases[0]}/api/v1/policy-changes`, { headers: { authorization: `Bearer ${system.keys.ops}` } })).status).toBe(200);
});
