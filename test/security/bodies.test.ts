import http from 'node:http';
import { gzipSync } from 'node:zlib';
import { OPERATIONS } from '../../api/openapi/operations';
import { type Role } from '../../platform/config';
import { within } from '../../platform/within';
import { startSystem, type TestSystem } from '../support/system';

/**
 * Issue #23, part 2: nothing of a body is read before the caller is known, nothing is inflated for anyone, and
 * each route reads at most its own limit. The proof that no work was done is that the answer arrives while the
 * body is still being sent: the server cannot have parsed what it has not received.
 */
let system: TestSystem;

beforeAll(async () => {
  system = await startSystem({ taskQueue: 'security-bodies' });
});

afterAll(async () => {
  await system?.stop();
});

const BODY_ROUTES = OPERATIONS.filter((op) => op.body && op.bodyBytes).map((op) => ({ ...op, concrete: op.path.replace(/\{(\w+)\}/g, 'SEC-BODY-1') }));
/** 10 MB of zeros, 10 kB gzipped: what a bomb is. */
const BOMB = gzipSync(Buffer.alloc(10 * 1024 * 1024));

/**
 * Sends the headers and the first part of a body and waits for the answer without ever ending the body.
 * Answers the status and the error code, and whether the body was still open when the answer came.
 */
function answerWhileSending(path: string, headers: Record<string, string>, first: Buffer): Promise<{ status: number; code: string | undefined; bodyStillOpen: boolean }> {
  const url = new URL(path, system.base);
  let req: http.ClientRequest | undefined;
  const answered = new Promise<{ status: number; code: string | undefined; bodyStillOpen: boolean }>((resolve, reject) => {
    let ended = false;
    req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { ...headers, 'content-length': String(first.length * 4) } }, (res) => {
      const open = !ended;
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        let code: string | undefined;
        try {
          code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
        } catch {
          code = undefined;
        }
        resolve({ status: res.statusCode ?? 0, code, bodyStillOpen: open });
      });
    });
    req.on('error', (err) => (ended ? undefined : reject(err)));
    req.on('close', () => (ended = true));
    // A quarter of the declared length, and then nothing: the rest never comes.
    req.write(first);
  });
  return within(30_000, answered, `no answer to POST ${path}`).finally(() => req?.destroy());
}

const bearer = (role: Role) => ({ authorization: `Bearer ${system.keys[role]}` });

test('a gzip bomb to every body-taking route, without a key, is 401 before its body is read', async () => {
  const answers = [];
  for (const op of BODY_ROUTES) {
    const a = await answerWhileSending(op.concrete, { 'content-type': 'application/json', 'content-encoding': 'gzip' }, BOMB);
    answers.push(`${op.path} ${a.status} ${a.code} ${a.bodyStillOpen ? 'before the body ended' : 'after'}`);
  }
  expect(answers).toEqual(BODY_ROUTES.map((op) => `${op.path} 401 unauthenticated before the body ended`));
});

test('a gzip bomb to every body-taking route, with a key of its role, is 415: nothing is inflated for anyone', async () => {
  const answers = [];
  for (const op of BODY_ROUTES) {
    const a = await answerWhileSending(op.concrete, { ...bearer(op.roles![0]!), 'content-type': 'application/json', 'content-encoding': 'gzip' }, BOMB);
    answers.push(`${op.path} ${a.status} ${a.code} ${a.bodyStillOpen ? 'before the body ended' : 'after'}`);
  }
  expect(answers).toEqual(BODY_ROUTES.map((op) => `${op.path} 415 content-encoding-refused before the body ended`));
});

test("a body declared larger than a route's own limit is 413 before it is read, at that route's limit and not another's", async () => {
  const answers = [];
  for (const op of BODY_ROUTES) {
    const a = await answerWhileSending(op.concrete, { ...bearer(op.roles![0]!), 'content-type': 'application/json' }, Buffer.alloc(op.bodyBytes! / 4 + 1, ' '));
    answers.push(`${op.path} ${a.status} ${a.code} ${a.bodyStillOpen ? 'before the body ended' : 'after'}`);
  }
  expect(answers).toEqual(BODY_ROUTES.map((op) => `${op.path} 413 payload-too-large before the body ended`));
  // Just under the limit is read (and then judged on its content): the limit is the route's own.
  const events = await fetch(`${system.base}/api/v1/cases/SEC-BODY-1/events`, {
    method: 'POST',
    headers: { ...bearer('case-system'), 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'conversation-held', date: '2026-01-05', padding: 'x'.repeat(12 * 1024) }),
  });
  // Only a parsed body can name its unknown field.
  expect([events.status, JSON.stringify(await events.json())]).toEqual([400, expect.stringContaining('padding')]);
});

test('a body that is not JSON, or nested 10,000 deep, is refused naming the problem; never a 5xx', async () => {
  const post = (path: string, body: string, type = 'application/json') =>
    fetch(`${system.base}${path}`, { method: 'POST', headers: { ...bearer('case-system'), 'content-type': type }, body }).then(async (r) => [r.status, ((await r.json()) as { error: { code: string } }).error.code]);
  expect(await post('/api/v1/timeline/simulate', `${'['.repeat(10_000)}${']'.repeat(10_000)}`)).toEqual([400, 'too-deeply-nested']);
  expect(await post('/api/v1/cases', `{"caseId":${'['.repeat(5_000)}${']'.repeat(5_000)}}`)).toEqual([400, 'too-deeply-nested']);
  expect(await post('/api/v1/cases', 'caseId=1', 'application/x-www-form-urlencoded')).toEqual([415, 'unsupported-media-type']);
  expect(await post('/api/v1/cases', '{"caseId":')).toEqual([400, 'invalid-json']);
  expect(await post('/api/v1/cases', '{"caseId":"A"}', 'application/json; charset=latin1')).toEqual([415, 'charset-unsupported']);
});

test('/healthz answers while twenty bombs are held open against the API', async () => {
  const held = BODY_ROUTES.flatMap((op) => [
    answerWhileSending(op.concrete, { 'content-type': 'application/json', 'content-encoding': 'gzip' }, BOMB),
    answerWhileSending(op.concrete, { ...bearer(op.roles![0]!), 'content-type': 'application/json', 'content-encoding': 'gzip' }, BOMB),
  ]);
  const health = await within(30_000, fetch(`${system.base}/healthz`));
  expect(health.status).toBe(200);
  expect((await Promise.all(held)).map((a) => a.status).sort()).toEqual([...Array(BODY_ROUTES.length).fill(401), ...Array(BODY_ROUTES.length).fill(415)].sort());
});
