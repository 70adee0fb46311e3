import { addDays, copenhagenDate } from '../../workflows/domain/dates';
import { startSystem, type TestSystem } from '../support/system';

/**
 * Issue #23, part 5, from outside against the real stack: a number that could be a CPR number never becomes
 * a revision, text is judged as it reads once NFKC-normalised, and nothing is stored or started on a refusal.
 */
let system: TestSystem;
const today = () => copenhagenDate(Date.now());

beforeAll(async () => {
  system = await startSystem({ taskQueue: 'security-edges' });
});

afterAll(async () => {
  await system?.stop();
});

const policy = (policyId: string, extra: Record<string, unknown> = {}) => ({
  policyId,
  revision: 1,
  title: `Edges ${policyId}`,
  effectiveFrom: addDays(today(), 400),
  scope: { type: 'municipalities', municipalities: ['163'] },
  effects: [{ type: 'switchConversationMode', mode: 'phone' }],
  ...extra,
});

test('a revision above 1,000,000 (a CPR-shaped 1503851234 among them) is refused naming the field; nothing is stored or started', async () => {
  for (const revision of [1_503_851_234, 1_000_001, 2 ** 31]) {
    const res = await system.api('POST', '/api/v1/policy-changes', policy('EDGE-REV', { revision }));
    expect([revision, res.status, res.body.error.details]).toEqual([revision, 400, [{ field: 'revision', problem: 'must be at most 1000000' }]]);
  }
  expect(await system.db.query(`SELECT policy_id FROM policy_revisions WHERE policy_id = 'EDGE-REV'`)).toEqual([]);
  expect(await system.db.query(`SELECT workflow_id FROM policy_fanouts WHERE policy_id = 'EDGE-REV'`)).toEqual([]);
  const top = await system.api('POST', '/api/v1/policy-changes', policy('EDGE-REV', { revision: 1_000_000 }));
  expect([top.status, top.body.revision]).toEqual([201, 1_000_000]);
  const doc = (await (await fetch(`${system.base}/api/v1/openapi.json`)).json()) as any;
  expect(doc.paths['/api/v1/policy-changes'].post.requestBody.content['application/json'].schema.properties.revision).toMatchObject({ type: 'integer', minimum: 1, maximum: 1_000_000 });
});

test('a CPR number in fullwidth digits, with a minus sign or other compatibility forms, is refused wherever text goes', async () => {
  // NFKC folds each of these to 010190-1234 or 010190 1234; U+2212 is a minus sign, which NFKC keeps.
  const disguised = ['０１０１９０－１２３４', '０１０１９０\u2212１２３４', '010190\u22121234', '𝟎𝟏𝟎𝟏𝟗𝟎 𝟏𝟐𝟑𝟒', '010190\u30001234'];
  for (const text of disguised) {
    const title = await system.api('POST', '/api/v1/policy-changes', policy('EDGE-CPR', { title: `Sag ${text}` }));
    expect([text, title.status, title.body.error.code]).toEqual([text, 400, expect.stringMatching(/^(cpr-number-refused|invalid-request)$/)]);
    expect(JSON.stringify(title.body)).not.toContain(text);
    const query = await fetch(`${system.base}/api/v1/reports/overdue?note=${encodeURIComponent(text)}`, { headers: { authorization: `Bearer ${system.keys.reader}` } });
    expect([text, query.status, ((await query.json()) as { error: { details: unknown } }).error.details]).toEqual([text, 400, [{ field: 'query.note', problem: 'looks like a CPR number; use a pseudonymous reference' }]]);
  }
  expect(await system.db.query(`SELECT policy_id FROM policy_revisions WHERE policy_id = 'EDGE-CPR'`)).toEqual([]);
  expect(system.logLines.join('\n')).not.toMatch(/010190|０１０１９０|𝟎𝟏𝟎/);
  // Text that only looks numeric after normalising is the same text as before: a plain title passes.
  const plain = await system.api('POST', '/api/v1/policy-changes', policy('EDGE-CPR', { title: 'Sag nr. ０１２ om telefonsamtaler' }));
  expect(plain.status).toBe(201);
});
