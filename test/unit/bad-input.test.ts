import { type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import express from 'express';
import { refuseCprNumbers } from '../../api/auth';
import { errorMiddleware } from '../../api/errors';
import { createMetrics, metricsRouter, requestLogging } from '../../api/observability';
import { SIMULATE_LIMITS, simulateSchema } from '../../api/routes/timeline';
import { type Db } from '../../platform/db';
import { createLogger } from '../../platform/logger';
import { CPR_LIKE, isoDate, policyRevisionSchema } from '../../workflows/domain/schemas';

/** Bad input where it enters: CPR-like values in every form and place, request ids, the metrics key, what-if bounds. */
const lines: string[] = [];
let server: Server;
let base: string;
const METRICS_KEY = 'metrics-key-for-the-test';

beforeAll(async () => {
  const logger = createLogger('info', {}, (line) => lines.push(line));
  // The gauges read the read model only when collected; this one has no rows.
  const metrics = createMetrics({ query: async () => [] } as unknown as Db);
  const app = express();
  app.use(requestLogging(logger, metrics));
  app.use(express.json());
  app.use(metricsRouter(metrics, METRICS_KEY));
  app.use('/api', refuseCprNumbers);
  app.all('/api/{*rest}', (_req, res) => {
    res.json({ ok: true });
  });
  app.use(errorMiddleware(logger));
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

test.each(['010203-1234', '010203 1234', '0102031234', 'ref 010203\u00a01234 x', '010203\u20131234'])('%j looks like a CPR number', (value) => {
  expect(CPR_LIKE.test(value)).toBe(true);
});

test.each(['01020-31234', '0102031-234', '01020312345', 'CASE-2024-000123', '2020 2021'])('%j does not', (value) => {
  expect(CPR_LIKE.test(value)).toBe(false);
});

test('a CPR number with a space is refused in a body, a query string and a path, naming where; it is never logged', async () => {
  const res = await fetch(`${base}/api/cases/X?note=${encodeURIComponent('010203 1234')}&ok=1`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ facts: { citizenRef: '010203 1234' } }),
  });
  expect(res.status).toBe(400);
  expect(await res.json()).toEqual({
    error: {
      code: 'cpr-number-refused',
      message: 'A value looks like a CPR number (DDMMYY-XXXX, DDMMYY XXXX or ten digits) in: facts.citizenRef, query.note; use pseudonymous references',
      details: [
        { field: 'facts.citizenRef', problem: 'looks like a CPR number; use a pseudonymous reference' },
        { field: 'query.note', problem: 'looks like a CPR number; use a pseudonymous reference' },
      ],
    },
  });
  const path = await fetch(`${base}/api/cases/${encodeURIComponent('010203 1234')}`);
  expect([path.status, ((await path.json()) as { error: { details: unknown } }).error.details]).toEqual([400, [{ field: 'path', problem: 'looks like a CPR number; use a pseudonymous reference' }]]);
  expect(lines.join('\n')).not.toMatch(/010203/);
});

test('an X-Request-Id that looks like a CPR number is refused, naming the header, and logged under a made id', async () => {
  const res = await fetch(`${base}/api/anything`, { headers: { 'x-request-id': '010203-1234' } });
  expect(res.status).toBe(400);
  expect(((await res.json()) as { error: unknown }).error).toEqual({
    code: 'cpr-number-refused',
    message: 'The X-Request-Id header looks like a CPR number (DDMMYY-XXXX, DDMMYY XXXX or ten digits); send an id without personal data',
    details: [{ field: 'header X-Request-Id', problem: 'looks like a CPR number; use an id without personal data' }],
  });
  const made = res.headers.get('x-request-id')!;
  expect(made).toMatch(/^[0-9a-f-]{36}$/);
  const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.requestId === made);
  expect(line).toMatchObject({ message: 'request', status: 400 });
  expect(lines.join('\n')).not.toContain('010203');
  // Separators the request-id alphabet allows do not hide one either.
  for (const id of ['010190_1234', '010190.1234', 'req-010190.1234-x']) {
    const other = await fetch(`${base}/api/anything`, { headers: { 'x-request-id': id } });
    expect([id, other.status, other.headers.get('x-request-id')]).toEqual([id, 400, expect.stringMatching(/^[0-9a-f-]{36}$/)]);
  }
  expect(lines.join('\n')).not.toContain('010190');
  // A plain request id is kept.
  const plain = await fetch(`${base}/api/anything`, { headers: { 'x-request-id': 'req-42' } });
  expect([plain.status, plain.headers.get('x-request-id')]).toEqual([200, 'req-42']);
});

test('with METRICS_KEY, /metrics answers only that key as a bearer token', async () => {
  const none = await fetch(`${base}/metrics`);
  expect([none.status, none.headers.get('www-authenticate'), ((await none.json()) as { error: { code: string } }).error.code]).toEqual([401, 'Bearer realm="metrics"', 'unauthenticated']);
  const wrong = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer not-the-metrics-key' } });
  expect(wrong.status).toBe(401);
  const right = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_KEY}` } });
  const text = await right.text();
  expect([right.status, text]).toEqual([200, expect.stringContaining('# TYPE http_request_duration_seconds histogram')]);
  // Behind the key, the figures counted from cases too.
  expect(text.match(/^# TYPE (cases_started_total|deadlines_missed|policy_fanout_cases) \w+$/gm)).toEqual(['# TYPE cases_started_total counter', '# TYPE deadlines_missed gauge', '# TYPE policy_fanout_cases gauge']);
});

test('a what-if is bounded in events, policies and effects, each refusal naming the field', () => {
  const facts = { caseId: 'W', citizenRef: 'R', municipality: '101', firstAbsenceDay: '2024-01-01' };
  const policy = (i: number, effects: number) => ({
    policyId: `p${i}`,
    revision: 1,
    title: 't',
    effectiveFrom: '2024-01-01',
    scope: { type: 'all' },
    effects: Array.from({ length: effects }, () => ({ type: 'waiveDeadlines' })),
  });
  const problems = (body: unknown) => {
    const result = simulateSchema.safeParse(body);
    return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  expect(problems({ facts, events: Array.from({ length: SIMULATE_LIMITS.events }, () => ({})) })).toEqual([]);
  expect(problems({ facts, events: Array.from({ length: SIMULATE_LIMITS.events + 1 }, () => ({})) })).toEqual(['events: at most 50 events in a what-if']);
  expect(problems({ facts, policies: Array.from({ length: 21 }, (_, i) => policy(i, 1)) })).toEqual(['policies: at most 20 policies in a what-if']);
  expect(problems({ facts, policies: Array.from({ length: 5 }, (_, i) => policy(i, 5)) })).toEqual(['policies: 25 effects in all; at most 20 in a what-if']);
  expect(problems({ facts, policies: [policy(0, 11)] })).toEqual(['policies.0.effects: Too big: expected array to have <=10 items']);
});

test('dates stay within 1900-2199 and effects within what the engine can add, so no date leaves the calendar', () => {
  expect(isoDate.safeParse('9999-12-31').error?.issues[0]?.message).toBe('must be from 1900-01-01 to 2199-12-31');
  expect(isoDate.safeParse('2024-02-30').error?.issues[0]?.message).toBe('must be a calendar date written YYYY-MM-DD');
  const revision = { policyId: 'p', revision: 1, title: 't', effectiveFrom: '2024-01-01', scope: { type: 'all' } };
  expect(policyRevisionSchema.safeParse({ ...revision, effects: [{ type: 'extendBenefitPeriod', months: 2_000_000_000, reviewPointsFrom: '2024-01-01', reviewPointsTo: '2024-02-01' }] }).success).toBe(false);
  expect(policyRevisionSchema.safeParse({ ...revision, effects: [{ type: 'extendCertificateValidity', days: 3_661 }] }).success).toBe(false);
  expect(policyRevisionSchema.safeParse({ ...revision, effects: [{ type: 'extendCertificateValidity', days: 3_660 }] }).success).toBe(true);
});
