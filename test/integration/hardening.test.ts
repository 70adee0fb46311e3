import { type Express } from 'express';
import { OPERATIONS } from '../../api/openapi/operations';
import { type Role, ROLES } from '../../platform/config';
import { copenhagenDate } from '../../workflows/domain/dates';
import { eventually, startSystem, type TestSystem } from '../support/system';

/** Authentication and roles, the OpenAPI document against the live routes, metrics, logs and CSV. */
let system: TestSystem;

beforeAll(async () => {
  system = await startSystem({ taskQueue: 'hardening', writeRatePerSecond: 5 });
});

afterAll(async () => {
  await system?.stop();
});

const call = async (method: string, path: string, headers: Record<string, string> = {}, body?: unknown) => {
  const res = await fetch(`${system.base}${path}`, {
    method: method.toUpperCase(),
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
};
const bearer = (role: Role) => ({ authorization: `Bearer ${system.keys[role]}` });
const concrete = (path: string) => path.replace(/\{(\w+)\}/g, 'MATRIX-1');

test('the auth matrix: every route against no key, a wrong key and every role', async () => {
  const outcomes: string[] = [];
  for (const op of OPERATIONS) {
    const path = concrete(op.path);
    const body = op.method === 'post' ? {} : undefined;
    if (!op.roles) {
      const open = await call(op.method, path);
      outcomes.push(`${op.method} ${op.path} open ${open.status === 200 || (op.path === '/readyz' && open.status === 503) ? 'ok' : open.status}`);
      continue;
    }
    const none = await call(op.method, path, {}, body);
    const wrong = await call(op.method, path, { authorization: 'Bearer not-a-key-not-a-key' }, body);
    expect([none.status, wrong.status]).toEqual([401, 401]);
    expect(JSON.parse(wrong.text).error.code).toBe('unauthenticated');
    for (const role of ROLES) {
      const res = await call(op.method, path, bearer(role), body);
      const allowed = op.roles.includes(role);
      if (allowed) expect([401, 403, 429]).not.toContain(res.status);
      else expect([res.status, JSON.parse(res.text).error.code]).toEqual([403, 'forbidden']);
      outcomes.push(`${op.method} ${op.path} ${role} ${allowed ? 'allowed' : 'forbidden'}`);
    }
  }
  expect(outcomes.filter((o) => o.endsWith('allowed'))).toHaveLength(OPERATIONS.filter((o) => o.roles).reduce((n, o) => n + o.roles!.length, 0));
  expect(outcomes.filter((o) => o.includes(' open ') && !o.endsWith(' ok'))).toEqual([]);
});

/** Every route Express serves, as `METHOD /path/{param}`. */
function liveRoutes(app: Express): string[] {
  const out: string[] = [];
  const walk = (stack: any[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) out.push(`${method} ${prefix}${layer.route.path}`.replace(/:(\w+)/g, '{$1}').replace(/(.)\/$/, '$1'));
      } else if (layer.name === 'router' && layer.handle?.stack) {
        walk(layer.handle.stack, `${prefix}${layer.rawPath && layer.rawPath !== '/' ? layer.rawPath : ''}`);
      }
    }
  };
  walk((app as any).router.stack, '');
  return [...new Set(out)].sort();
}

test('the OpenAPI document describes exactly the live routes, with the request schemas', async () => {
  const res = await call('get', '/api/v1/openapi.json');
  const doc = JSON.parse(res.text);
  expect(doc.openapi).toBe('3.1.0');
  const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)).sort();
  expect(documented).toEqual(liveRoutes(system.app));
  const start = doc.paths['/api/v1/cases'].post;
  expect(start['x-roles']).toEqual(['case-system']);
  expect(start.requestBody.content['application/json'].schema.required).toEqual(['caseId', 'citizenRef', 'municipality', 'firstAbsenceDay']);
  expect(start.requestBody.content['application/json'].schema.properties.firstAbsenceDay).toMatchObject({ type: 'string', format: 'date' });
  const docs = await call('get', '/api/v1/docs');
  expect(docs.type).toContain('text/html');
  expect(docs.text).toContain('<code>/api/v1/reports/timeliness</code>');
});

test('writes beyond the rate answer 429 with Retry-After; nothing is stored', async () => {
  // One burst sent at once: the key's bucket (10 writes, refilled at 5 a second) refills only by what the
  // burst's own duration allows. The bodies are invalid, so a write let through answers 400.
  const sent = performance.now();
  const burst = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      fetch(`${system.base}/api/v1/policy-changes`, { method: 'POST', headers: { ...bearer('ops'), 'content-type': 'application/json' }, body: JSON.stringify({ policyId: `rate-${i}` }) }),
    ),
  );
  const statuses = burst.map((r) => r.status);
  expect(statuses.filter((s) => s !== 400 && s !== 429)).toEqual([]);
  // At most the bucket's 10 (less what earlier tests with this key used), plus what refilled while the burst
  // was answered: 5 a second, one token more for the partial second (a loaded machine answers 30 slowly).
  const refilled = Math.ceil(((performance.now() - sent) / 1000) * 5) + 1;
  const through = statuses.filter((s) => s === 400).length;
  expect(through).toBeGreaterThanOrEqual(1);
  expect(through).toBeLessThanOrEqual(10 + refilled);
  expect(through).toBeLessThan(30);
  const limited = burst.filter((r) => r.status === 429);
  expect(limited.length).toBeGreaterThan(0);
  for (const r of limited) {
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('rate-limited');
  }
  expect(await system.db.query('SELECT 1 FROM policy_revisions')).toEqual([]);
});

test('a CPR-like value in any field is refused before anything happens', async () => {
  const res = await call('post', '/api/v1/timeline/simulate', bearer('reader'), { facts: { caseId: 'X', citizenRef: 'R', municipality: '101', firstAbsenceDay: '2020-01-01', note: '010203-1234' } });
  expect(res.status).toBe(400);
  expect(JSON.parse(res.text).error).toMatchObject({ code: 'cpr-number-refused', details: [{ field: 'facts.note', problem: 'looks like a CPR number; use a pseudonymous reference' }] });
});

test('metrics, structured request logs without personal data, and CSV reports', async () => {
  const created = await system.api('POST', '/api/v1/cases', { caseId: 'OBS-1', citizenRef: 'REF-SECRET-1', municipality: '101', firstAbsenceDay: copenhagenDate(Date.now()) });
  expect(created.status).toBe(201);
  // Open (no METRICS_KEY here): latency by route, and nothing counted from cases, which are national figures.
  const metrics = await call('get', '/metrics');
  expect(metrics.text).toMatch(/http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/cases\/",status="201"\} 1/);
  expect(metrics.text.match(/^# TYPE (cases_started_total|deadlines_missed|policy_fanout_cases) /gm)).toBeNull();

  const lines = system.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.message === 'request');
  const start = lines.find((l) => l.route === '/api/v1/cases/' && l.status === 201);
  expect(start).toMatchObject({ level: 'info', method: 'POST', role: 'case-system', requestId: expect.any(String) });
  const all = system.logLines.join('\n');
  for (const secret of ['REF-SECRET-1', ...Object.values(system.keys)]) expect(all).not.toContain(secret);

  // The read model follows the workflow by a moment.
  const csv = await eventually(
    () => call('get', `/api/v1/reports/upcoming?days=60`, { ...bearer('reader'), accept: 'text/csv' }),
    (r) => r.text.includes('OBS-1,101,first-conversation'),
    'the case in the upcoming report',
  );
  expect(csv.type).toContain('text/csv');
  expect(csv.text.split('\r\n')[0]).toBe('caseId,municipality,deadlineId,kind,dueDate,status,mode');
  const timeliness = await call('get', '/api/v1/reports/timeliness?from=2020-03-01&to=2020-05-31', { ...bearer('reader'), accept: 'text/csv' });
  expect(timeliness.text).toContain('daysLateDistribution.22+,0');
  const bad = await call('get', '/api/v1/reports/timeliness?from=2020-06-01&to=2020-05-31', bearer('reader'));
  expect(JSON.parse(bad.text).error.details).toEqual([{ field: 'to', problem: 'from must not be after to' }]);
});
