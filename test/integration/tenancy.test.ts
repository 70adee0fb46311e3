import { OPERATIONS } from '../../api/openapi/operations';
import { type ApiKey, type Role } from '../../platform/config';
import { addDays, copenhagenDate } from '../../workflows/domain/dates';
import { MUNICIPALITIES } from '../../workflows/domain/municipalities';
import { scopeCovers } from '../../workflows/domain/policy-scope';
import { type PolicyScope } from '../../workflows/domain/types';
import { eventually, startSystem, type TestSystem } from '../support/system';

/**
 * Municipality tenancy from outside: every route of the OpenAPI document, for national keys of each role and
 * for keys bound to municipalities (README, Municipality tenancy). Own cases are in København (101), others in
 * Aarhus (751); one ops key is bound to the whole of Region Nordjylland.
 */
const NORDJYLLAND = Object.keys(MUNICIPALITIES).filter((code) => MUNICIPALITIES[code]!.region === 'Nordjylland');
const BOUND: (ApiKey & { label: string })[] = [
  { label: 'bound case-system', role: 'case-system', key: 'bound-case-system-101-147', municipalities: ['101', '147'] },
  { label: 'bound reader', role: 'reader', key: 'bound-reader-101-000000001', municipalities: ['101'] },
  { label: 'bound ops', role: 'ops', key: 'bound-ops-101-147-00000001', municipalities: ['101', '147'] },
  { label: 'Nordjylland ops', role: 'ops', key: 'bound-ops-nordjylland-0001', municipalities: NORDJYLLAND },
];

let system: TestSystem;
/** Every key by its label: `national <role>` and the bound ones. */
const keys: Record<string, string> = {};
const today = () => copenhagenDate(Date.now());
const run = Date.now().toString(36);
const OWN = `TEN-${run}-101`;
const OTHER = `TEN-${run}-751`;
const UNKNOWN = `TEN-${run}-none`;

interface Answer {
  status: number;
  type: string;
  headers: Headers;
  text: string;
  body: any;
}

async function call(method: string, path: string, as: string | null, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${system.base}${path}`, {
    method,
    headers: {
      ...(as ? { authorization: `Bearer ${keys[as]}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, type, headers: res.headers, text, body: type.includes('json') ? JSON.parse(text) : undefined };
}

const ALL_KEYS = () => Object.keys(keys);
const ofRole = (role: Role) => ALL_KEYS().filter((label) => label.endsWith(role) || BOUND.some((b) => b.label === label && b.role === role));
const notOfRoles = (...roles: Role[]) => ALL_KEYS().filter((label) => !roles.some((role) => ofRole(role).includes(label)));
const forbidden = { error: { code: 'forbidden', message: expect.stringMatching(/^This needs the role /), details: null } };
const caseNotFound = (caseId: string) => ({ error: { code: 'case-not-found', message: `No case ${caseId}`, details: null } });

/** The municipalities a key is bound to; undefined for a national key. */
const municipalitiesOf = (label: string) => BOUND.find((b) => b.label === label)?.municipalities;

/**
 * A policy as a key sees it is what its municipalities alone would give: `applied` counts only its own cases
 * holding the revision, and a bound key's fan-outs show their state, never their national counts.
 */
async function expectOwnView(label: string, p: { policyId: string; revision: number; applied: number; fanouts: Record<string, unknown>[] }) {
  const reach = municipalitiesOf(label);
  const ownCount = async () =>
    Number(
      (
        await system.db.query<{ n: string }>(
          `SELECT count(*) AS n FROM case_policies cp JOIN cases c USING (case_id) WHERE cp.policy_id = $1 AND cp.revision = $2 AND ($3::text[] IS NULL OR c.municipality = ANY($3))`,
          [p.policyId, p.revision, reach ?? null],
        )
      )[0]!.n,
    );
  // A fan-out may still be applying the revision: the answer and the count are compared once both are asked
  // together and agree, which they must as soon as nothing moves.
  const seen = await eventually(
    async () => {
      const answer = (await call('GET', `/api/v1/policy-changes/${p.policyId}`, label)).body as { applied: number; fanouts: Record<string, unknown>[] };
      return { applied: answer.applied, own: await ownCount(), fanouts: answer.fanouts };
    },
    (x) => x.applied === x.own,
    `${label} sees ${p.policyId} applied as its own cases hold it`,
  );
  expect([label, p.policyId, seen.applied]).toEqual([label, p.policyId, seen.own]);
  for (const f of [...p.fanouts, ...seen.fanouts]) {
    expect([label, Object.keys(f).sort()]).toEqual([label, reach ? ['kind', 'startedAt', 'status', 'updatedAt', 'workflowId'] : expect.arrayContaining(['matched', 'signalled', 'failed', 'missing'])]);
  }
}

/** Every key without one of `roles` answers 403 forbidden, and no key 401. */
async function onlyRoles(method: string, path: string, roles: Role[], body?: unknown) {
  for (const label of notOfRoles(...roles)) {
    const res = await call(method, path, label, body);
    expect([label, res.status, res.body]).toEqual([label, 403, forbidden]);
  }
  const none = await call(method, path, null, body);
  expect(none.status).toBe(401);
}

const policy = (policyId: string, scope: unknown, extra: Record<string, unknown> = {}) => ({
  policyId,
  revision: 1,
  title: `Tenancy ${policyId}`,
  effectiveFrom: addDays(today(), 400),
  scope,
  effects: [{ type: 'switchConversationMode', mode: 'phone' }],
  ...extra,
});

beforeAll(async () => {
  system = await startSystem({ taskQueue: 'tenancy', extraApiKeys: BOUND.map(({ label: _label, ...key }) => key) });
  for (const role of ['case-system', 'reader', 'ops'] as Role[]) keys[`national ${role}`] = system.keys[role];
  for (const b of BOUND) keys[b.label] = b.key;
  const firstAbsenceDay = addDays(today(), -120);
  // In each municipality a case with a conversation held (conversation modes, upcoming follow-up) and one
  // without (its first conversation overdue).
  for (const [caseId, municipality, held] of [
    [OWN, '101', true],
    [OTHER, '751', true],
    [`${OWN}-late`, '101', false],
    [`${OTHER}-late`, '751', false],
  ] as const) {
    const res = await call('POST', '/api/v1/cases', 'national case-system', { caseId, citizenRef: `R-${caseId}`, municipality, firstAbsenceDay });
    expect(res.status).toBe(201);
    if (!held) continue;
    const conversation = await call('POST', `/api/v1/cases/${caseId}/events`, 'national case-system', { eventId: 'conv-1', type: 'conversation-held', occurredOn: addDays(today(), -2), mode: 'phone' });
    expect(conversation.status).toBe(200);
  }
  await eventually(
    () => system.db.query<{ met: string; cases: string }>(`SELECT count(*) FILTER (WHERE status = 'met') AS met, count(DISTINCT case_id) AS cases FROM deadlines WHERE case_id LIKE $1`, [`TEN-${run}-%`]),
    (rows) => Number(rows[0]!.met) === 2 && Number(rows[0]!.cases) === 4,
    'the four cases and both conversations in the read model',
  );
}, 120_000);

afterAll(async () => {
  await system?.stop();
});

/** One scenario per operation of the document, keyed `METHOD path`; a route without one fails the first test. */
const scenarios: Record<string, () => Promise<void>> = {
  'GET /healthz': async () => {
    for (const label of [...ALL_KEYS(), null]) expect(await call('GET', '/healthz', label)).toMatchObject({ status: 200, body: { status: 'ok' } });
  },
  'GET /readyz': async () => {
    for (const label of [...ALL_KEYS(), null]) expect(await call('GET', '/readyz', label)).toMatchObject({ status: 200, body: { status: 'ready' } });
  },
  'GET /metrics': async () => {
    // Open here (no METRICS_KEY in the test system), for every key alike; test/unit/bad-input.test.ts covers the key.
    for (const label of [...ALL_KEYS(), null]) {
      const res = await call('GET', '/metrics', label);
      expect([res.status, res.text]).toEqual([200, expect.stringContaining('# TYPE http_request_duration_seconds histogram')]);
    }
  },
  'GET /api/v1/openapi.json': async () => {
    for (const label of [...ALL_KEYS(), null]) expect(await call('GET', '/api/v1/openapi.json', label)).toMatchObject({ status: 200, body: { openapi: '3.1.0' } });
  },
  'GET /api/v1/docs': async () => {
    for (const label of [...ALL_KEYS(), null]) {
      const res = await call('GET', '/api/v1/docs', label);
      expect([res.status, res.type]).toEqual([200, 'text/html; charset=utf-8']);
    }
  },
  'POST /api/v1/cases': async () => {
    const start = (caseId: string, municipality: string) => ({ caseId, citizenRef: `R-${caseId}`, municipality, firstAbsenceDay: today() });
    // National: any municipality.
    expect((await call('POST', '/api/v1/cases', 'national case-system', start(`TEN-${run}-n-751`, '751'))).status).toBe(201);
    // Bound: its own municipalities only; starting elsewhere is refused before anything is started.
    const own = await call('POST', '/api/v1/cases', 'bound case-system', start(`TEN-${run}-b-147`, '147'));
    expect([own.status, own.body.caseId, own.body.municipality]).toEqual([201, `TEN-${run}-b-147`, '147']);
    const elsewhere = await call('POST', '/api/v1/cases', 'bound case-system', start(`TEN-${run}-b-751`, '751'));
    expect([elsewhere.status, elsewhere.body]).toEqual([
      403,
      { error: { code: 'municipality-not-allowed', message: 'This key may start cases in 101, 147 only, not in 751', details: [{ field: 'municipality', problem: "not one of the key's municipalities (101, 147)" }] } },
    ]);
    expect((await call('GET', `/api/v1/cases/TEN-${run}-b-751`, 'national reader')).status).toBe(404);
    // An id taken in another municipality: a conflict that names nothing of the other case.
    const taken = await call('POST', '/api/v1/cases', 'bound case-system', start(OTHER, '101'));
    expect([taken.status, taken.body]).toEqual([409, { error: { code: 'case-exists', message: `Case ${OTHER} already exists with different data`, details: null } }]);
    await onlyRoles('POST', '/api/v1/cases', ['case-system'], start(`TEN-${run}-x`, '101'));
  },
  'GET /api/v1/cases/{caseId}': async () => {
    for (const label of ['national case-system', 'national reader', 'bound case-system', 'bound reader']) {
      const own = await call('GET', `/api/v1/cases/${OWN}`, label);
      expect([label, own.status, own.body.caseId, own.body.municipality]).toEqual([label, 200, OWN, '101']);
    }
    for (const label of ['national case-system', 'national reader']) expect((await call('GET', `/api/v1/cases/${OTHER}`, label)).body.municipality).toBe('751');
    for (const label of ['bound case-system', 'bound reader']) {
      const other = await call('GET', `/api/v1/cases/${OTHER}`, label);
      const unknown = await call('GET', `/api/v1/cases/${UNKNOWN}`, label);
      expect([other.status, other.body]).toEqual([404, caseNotFound(OTHER)]);
      expect([unknown.status, unknown.body]).toEqual([404, caseNotFound(UNKNOWN)]);
    }
    await onlyRoles('GET', `/api/v1/cases/${OWN}`, ['case-system', 'reader']);
  },
  'GET /api/v1/cases/{caseId}/timeline.svg': async () => {
    for (const label of ['national reader', 'bound reader', 'bound case-system']) {
      const own = await call('GET', `/api/v1/cases/${OWN}/timeline.svg`, label);
      expect([own.status, own.type, own.text.startsWith('<svg')]).toEqual([200, 'image/svg+xml; charset=utf-8', true]);
    }
    expect((await call('GET', `/api/v1/cases/${OTHER}/timeline.svg`, 'national reader')).status).toBe(200);
    for (const label of ['bound reader', 'bound case-system']) {
      const other = await call('GET', `/api/v1/cases/${OTHER}/timeline.svg`, label);
      expect([other.status, other.body]).toEqual([404, caseNotFound(OTHER)]);
    }
    await onlyRoles('GET', `/api/v1/cases/${OWN}/timeline.svg`, ['case-system', 'reader']);
  },
  'GET /caseworker/cases/{caseId}': async () => {
    const basic = (label: string) => ({ authorization: `Basic ${Buffer.from(`sagsbehandler:${keys[label]}`).toString('base64')}` });
    const page = (caseId: string, label: string) => call('GET', `/caseworker/cases/${caseId}`, null, undefined, basic(label));
    for (const label of ['national reader', 'bound reader', 'bound case-system']) {
      const own = await page(OWN, label);
      expect([own.status, own.type, own.text]).toEqual([200, 'text/html; charset=utf-8', expect.stringContaining(OWN)]);
    }
    expect((await page(OTHER, 'national reader')).status).toBe(200);
    for (const label of ['bound reader', 'bound case-system']) {
      const other = await page(OTHER, label);
      expect([other.status, other.body]).toEqual([404, caseNotFound(OTHER)]);
    }
    for (const label of notOfRoles('case-system', 'reader')) expect([label, (await page(OWN, label)).status]).toEqual([label, 403]);
    const none = await call('GET', `/caseworker/cases/${OWN}`, null);
    expect([none.status, none.headers.get('www-authenticate')]).toEqual([401, expect.stringMatching(/^Basic /)]);
  },
  'POST /api/v1/cases/{caseId}/events': async () => {
    const event = (eventId: string) => ({ eventId, type: 'certificate-requested', occurredOn: addDays(today(), -1) });
    const own = await call('POST', `/api/v1/cases/${OWN}/events`, 'bound case-system', event('cert-bound'));
    expect([own.status, own.body.applied]).toEqual([200, true]);
    const other = await call('POST', `/api/v1/cases/${OTHER}/events`, 'bound case-system', event('cert-bound'));
    expect([other.status, other.body]).toEqual([404, caseNotFound(OTHER)]);
    const unknown = await call('POST', `/api/v1/cases/${UNKNOWN}/events`, 'bound case-system', event('cert-bound'));
    expect([unknown.status, unknown.body]).toEqual([404, caseNotFound(UNKNOWN)]);
    // Nothing reached the other municipality's case: the same event from a national key is new to it.
    const national = await call('POST', `/api/v1/cases/${OTHER}/events`, 'national case-system', event('cert-bound'));
    expect([national.status, national.body.applied]).toEqual([200, true]);
    await onlyRoles('POST', `/api/v1/cases/${OWN}/events`, ['case-system'], event('cert-x'));
  },
  'POST /api/v1/timeline/simulate': async () => {
    // Nothing is read or started: any municipality, bound key or not.
    const body = { facts: { caseId: 'WHAT-IF', citizenRef: 'R', municipality: '751', firstAbsenceDay: '2024-01-01' }, asOf: '2024-03-01' };
    for (const label of [...ofRole('case-system'), ...ofRole('reader')]) {
      const res = await call('POST', '/api/v1/timeline/simulate', label, body);
      expect([label, res.status, res.body.municipality, res.body.deadlines[0].id]).toEqual([label, 200, '751', 'first-conversation']);
    }
    await onlyRoles('POST', '/api/v1/timeline/simulate', ['case-system', 'reader'], body);
  },
  'POST /api/v1/policy-changes': async () => {
    const publish = (label: string, body: unknown) => call('POST', '/api/v1/policy-changes', label, body);
    const own = await publish('bound ops', policy(`TEN-${run}-own`, { type: 'municipalities', municipalities: ['101', '147'] }));
    expect([own.status, own.body.scope]).toEqual([201, { type: 'municipalities', municipalities: ['101', '147'] }]);
    const region = await publish('Nordjylland ops', policy(`TEN-${run}-nord`, { type: 'regions', regions: ['Nordjylland'] }));
    expect(region.status).toBe(201);
    const refusals: [string, unknown, string, { field: string; problem: string }[]][] = [
      ['bound ops', policy(`TEN-${run}-r1`, { type: 'municipalities', municipalities: ['101', '751'] }), 'The revision reaches municipalities this key is not bound to (101, 147): scope 751; a national ops key publishes it', [{ field: 'scope', problem: "reaches 751, outside the key's municipalities" }]],
      ['bound ops', policy(`TEN-${run}-r2`, { type: 'all' }), expect.stringContaining('scope 96 municipalities'), [{ field: 'scope', problem: expect.stringMatching(/^reaches 96 municipalities \(151, 153, 155, 157, 159, …\)/) }]] as never,
      ['bound ops', policy(`TEN-${run}-r3`, { type: 'regions', regions: ['Hovedstaden'] }), expect.stringContaining('scope 27 municipalities'), [{ field: 'scope', problem: expect.stringContaining('reaches 27 municipalities') }]] as never,
      [
        'bound ops',
        policy(`TEN-${run}-r4`, { type: 'municipalities', municipalities: ['101'] }, { endedFor: [{ scope: { type: 'municipalities', municipalities: ['751'] }, effectiveTo: addDays(today(), 500) }] }),
        'The revision reaches municipalities this key is not bound to (101, 147): endedFor.0.scope 751; a national ops key publishes it',
        [{ field: 'endedFor.0.scope', problem: "reaches 751, outside the key's municipalities" }],
      ],
    ];
    for (const [label, body, message, details] of refusals) {
      const res = await publish(label, body);
      expect([res.status, res.body]).toEqual([403, { error: { code: 'municipality-not-allowed', message, details } }]);
    }
    // A national policy may not be lifted or narrowed by a bound key.
    const national = policy(`TEN-${run}-national`, { type: 'all' });
    expect((await publish('national ops', national)).status).toBe(201);
    const lift = await publish('bound ops', { ...national, revision: 2, scope: { type: 'municipalities', municipalities: ['101'] } });
    expect([lift.status, lift.body.error.code, lift.body.error.details[0].field]).toEqual([403, 'municipality-not-allowed', '(stored) scope']);
    const nothingStored = await system.db.query(`SELECT policy_id FROM policy_revisions WHERE policy_id LIKE $1 ORDER BY 1`, [`TEN-${run}-%`]);
    expect(nothingStored.map((r) => r.policy_id)).toEqual([`TEN-${run}-national`, `TEN-${run}-nord`, `TEN-${run}-own`]);
    await onlyRoles('POST', '/api/v1/policy-changes', ['ops'], policy(`TEN-${run}-x`, { type: 'all' }));
  },
  'GET /api/v1/policy-changes': async () => {
    // A national key sees every policy; a bound key those that reach its municipalities, with `applied`
    // counted in them and its fan-outs' state without their national counts.
    const everyone = await call('GET', '/api/v1/policy-changes', 'national reader');
    const ids = everyone.body.policies.map((p: { policyId: string }) => p.policyId).sort();
    expect(ids).toEqual(expect.arrayContaining([`TEN-${run}-national`, `TEN-${run}-nord`, `TEN-${run}-own`]));
    for (const label of [...ofRole('reader'), ...ofRole('ops')]) {
      const res = await call('GET', '/api/v1/policy-changes', label);
      const reach = municipalitiesOf(label);
      const expected = everyone.body.policies.filter((p: { scope: PolicyScope }) => !reach || reach.some((m) => scopeCovers(p.scope, m)));
      expect([label, res.status, res.body.policies.map((p: { policyId: string }) => p.policyId).sort()]).toEqual([label, 200, expected.map((p: { policyId: string }) => p.policyId).sort()]);
      for (const p of res.body.policies) await expectOwnView(label, p);
    }
    expect((await call('GET', '/api/v1/policy-changes', 'bound reader')).body.policies.map((p: { policyId: string }) => p.policyId)).not.toContain(`TEN-${run}-nord`);
    await onlyRoles('GET', '/api/v1/policy-changes', ['ops', 'reader']);
  },
  'GET /api/v1/policy-changes/{policyId}': async () => {
    for (const label of [...ofRole('reader'), ...ofRole('ops')]) {
      const res = await call('GET', `/api/v1/policy-changes/TEN-${run}-national`, label);
      expect([label, res.status, res.body.scope]).toEqual([label, 200, { type: 'all' }]);
      await expectOwnView(label, res.body);
      const unknown = await call('GET', `/api/v1/policy-changes/TEN-${run}-nope`, label);
      expect([unknown.status, unknown.body.error.code]).toEqual([404, 'policy-not-found']);
    }
    // A policy that never reached the key's municipalities answers as one that does not exist.
    const elsewhere = await call('GET', `/api/v1/policy-changes/TEN-${run}-nord`, 'bound reader');
    expect([elsewhere.status, elsewhere.body]).toEqual([404, { error: { code: 'policy-not-found', message: `No policy TEN-${run}-nord`, details: null } }]);
    expect((await call('GET', `/api/v1/policy-changes/TEN-${run}-nord/impact`, 'bound reader')).status).toBe(404);
    await onlyRoles('GET', `/api/v1/policy-changes/TEN-${run}-national`, ['ops', 'reader']);
  },
  'GET /api/v1/policy-changes/{policyId}/impact': async () => {
    // A policy in force now over both cases: national keys count both, the bound reader its own.
    const now = { ...policy(`TEN-${run}-impact`, { type: 'all' }), effectiveFrom: addDays(today(), -30), effects: [{ type: 'switchConversationMode', mode: 'video' }] };
    expect((await call('POST', '/api/v1/policy-changes', 'national ops', now)).status).toBe(201);
    const path = `/api/v1/policy-changes/TEN-${run}-impact/impact`;
    const national = await eventually(
      () => call('GET', path, 'national reader'),
      (r) => r.body.casesTouched >= 4,
      'the policy applied to the cases of both municipalities',
    );
    expect(national.body.municipalities).toBeUndefined();
    // The fan-out may still be applying it to the bound municipality's cases (four are touched elsewhere first).
    const boundCases = await system.db.query<{ n: string }>(`SELECT count(*) AS n FROM cases WHERE municipality = '101' AND case_id LIKE $1`, [`TEN-${run}-%`]);
    const bound = await eventually(
      () => call('GET', path, 'bound reader'),
      (r) => r.body.casesTouched === Number(boundCases[0]!.n),
      "the policy applied to every case of the bound reader's municipality",
    );
    expect([bound.status, bound.body.municipalities, bound.body.casesTouched]).toEqual([200, ['101'], Number(boundCases[0]!.n)]);
    expect(bound.body.casesTouched).toBeLessThan(national.body.casesTouched);
    const csv = await call('GET', path, 'bound reader', undefined, { accept: 'text/csv' });
    expect(csv.text).toContain(`casesTouched,${bound.body.casesTouched}`);
    await onlyRoles('GET', path, ['ops', 'reader']);
  },
  'POST /api/v1/policy-changes/{policyId}/resend': async () => {
    const own = await call('POST', `/api/v1/policy-changes/TEN-${run}-own/resend`, 'bound ops');
    expect([own.status, own.body.policyId, own.body.fanoutWorkflowId]).toEqual([202, `TEN-${run}-own`, expect.stringContaining(`TEN-${run}-own`)]);
    const national = await call('POST', `/api/v1/policy-changes/TEN-${run}-national/resend`, 'bound ops');
    expect([national.status, national.body.error.code]).toEqual([403, 'municipality-not-allowed']);
    // A policy that never reached the key's municipalities is, to that key, no policy.
    const nord = await call('POST', `/api/v1/policy-changes/TEN-${run}-own/resend`, 'Nordjylland ops');
    expect([nord.status, nord.body.error.code]).toEqual([404, 'policy-not-found']);
    const unknown = await call('POST', `/api/v1/policy-changes/TEN-${run}-nope/resend`, 'bound ops');
    expect(unknown.status).toBe(404);
    expect((await call('POST', `/api/v1/policy-changes/TEN-${run}-national/resend`, 'national ops')).status).toBe(202);
    await onlyRoles('POST', `/api/v1/policy-changes/TEN-${run}-own/resend`, ['ops']);
  },
  ...Object.fromEntries(
    [
      ['GET', '/api/v1/ops/verify', undefined],
      ['POST', '/api/v1/ops/repair', { limit: 10 }],
      ['POST', '/api/v1/ops/read-model/rebuild', { pageSize: 5 }],
    ].map(([method, path, body]) => [
      `${method} ${path}`,
      async () => {
        expect((await call(method as string, path as string, 'national ops', body)).status).toBe(200);
        for (const label of ['bound ops', 'Nordjylland ops']) {
          const res = await call(method as string, path as string, label, body);
          expect([res.status, res.body.error.code]).toEqual([403, 'national-key-required']);
        }
        await onlyRoles(method as string, path as string, ['ops'], body);
      },
    ]),
  ),
  'GET /api/v1/reports/overdue': () => rowReport('overdue', ''),
  'GET /api/v1/reports/upcoming': () => rowReport('upcoming', 'days=366'),
  'GET /api/v1/reports/timeliness': () => figureReport('timeliness', `from=${addDays(today(), -365)}&to=${addDays(today(), 365)}`),
  'GET /api/v1/reports/conversation-modes': () => figureReport('conversation-modes', `from=${addDays(today(), -10)}&to=${today()}`),
  'GET /codec/logout': async () => {
    // Open: it only clears the caller's own session cookie.
    for (const label of [...ALL_KEYS(), null]) {
      const res = await call('GET', '/codec/logout', label);
      expect([label, res.status, res.headers.get('set-cookie')]).toEqual([label, 200, expect.stringMatching(/^sfe_codec_session=; Path=\/codec; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax$/)]);
    }
  },
  'GET /codec/login': async () => {
    const basic = (label: string) => ({ authorization: `Basic ${Buffer.from(`x:${keys[label]}`).toString('base64')}` });
    for (const label of ['national reader', 'national case-system']) expect((await call('GET', '/codec/login', null, undefined, basic(label))).status).toBe(200);
    for (const label of ['bound reader', 'bound case-system']) {
      const res = await call('GET', '/codec/login', null, undefined, basic(label));
      expect([res.status, res.body.error.code]).toEqual([403, 'national-key-required']);
    }
    for (const label of notOfRoles('case-system', 'reader')) expect((await call('GET', '/codec/login', null, undefined, basic(label))).status).toBe(403);
    expect((await call('GET', '/codec/login', null)).status).toBe(401);
  },
  ...Object.fromEntries(
    ['decode', 'encode'].map((way) => [
      `POST /codec/${way}`,
      async () => {
        const path = `/codec/${way}`;
        expect(await call('POST', path, 'national reader', { payloads: [] })).toMatchObject({ status: 200, body: { payloads: [] } });
        for (const label of ['bound reader', 'bound case-system']) {
          const res = await call('POST', path, label, { payloads: [] });
          expect([res.status, res.body.error.code]).toEqual([403, 'national-key-required']);
        }
        await onlyRoles('POST', path, ['case-system', 'reader'], { payloads: [] });
      },
    ]),
  ),
};

/** A report of rows: national readers see both municipalities, the bound reader its own; another municipality asked for is refused. */
async function rowReport(name: string, query: string) {
  const path = (q: string) => `/api/v1/reports/${name}?limit=10000${query ? `&${query}` : ''}${q}`;
  // The four cases of beforeAll (other scenarios start more, in 147 and 751).
  const ours = (rows: { caseId: string; municipality: string }[]) => [...new Set(rows.filter((r) => r.caseId.startsWith(OWN) || r.caseId.startsWith(OTHER)).map((r) => r.municipality))].sort();
  const national = await eventually(
    () => call('GET', path(''), 'national reader'),
    (r) => ours(r.body.rows).length === 2,
    `both municipalities in ${name}`,
  );
  expect(ours(national.body.rows)).toEqual(['101', '751']);
  const bound = await call('GET', path(''), 'bound reader');
  expect([bound.status, [...new Set(bound.body.rows.map((r: { municipality: string }) => r.municipality))]]).toEqual([200, ['101']]);
  expect(bound.body.rows.length).toBeGreaterThan(0);
  const csv = await call('GET', path(''), 'bound reader', undefined, { accept: 'text/csv' });
  const lines = csv.text.trim().split('\r\n').slice(1);
  expect([lines.length, lines.every((line) => line.split(',')[1] === '101')]).toEqual([bound.body.rows.length, true]);
  const asked = await call('GET', path('&municipality=101'), 'bound reader');
  expect(asked.body.rows).toEqual(bound.body.rows);
  const refused = await call('GET', path('&municipality=751'), 'bound reader');
  expect([refused.status, refused.body]).toEqual([
    403,
    { error: { code: 'municipality-not-allowed', message: 'This key reads reports of 101 only, not of 751', details: [{ field: 'query.municipality', problem: "not one of the key's municipalities (101)" }] } },
  ]);
  await onlyRoles('GET', path(''), ['reader']);
}

/** A report of figures: the bound reader's counts are those of its municipality asked for by a national key. */
async function figureReport(name: string, query: string) {
  const path = (q: string) => `/api/v1/reports/${name}?${query}${q}`;
  const national = await call('GET', path(''), 'national reader');
  const national101 = await call('GET', path('&municipality=101'), 'national reader');
  const bound = await call('GET', path(''), 'bound reader');
  expect([national.status, national101.status, bound.status]).toEqual([200, 200, 200]);
  expect(bound.body.total).toBeGreaterThan(0);
  expect(bound.body.total).toBeLessThan(national.body.total);
  const { municipality: _m, municipalities, ...figures } = bound.body;
  const { municipality: _n, ...expected } = national101.body;
  expect([municipalities, figures]).toEqual([['101'], expected]);
  const refused = await call('GET', path('&municipality=751'), 'bound reader');
  expect([refused.status, refused.body.error.code]).toEqual([403, 'municipality-not-allowed']);
  await onlyRoles('GET', path(''), ['reader']);
}

test('every operation of the OpenAPI document has a tenancy scenario', async () => {
  const doc = (await call('GET', '/api/v1/openapi.json', null)).body;
  const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
  expect(Object.keys(scenarios).sort()).toEqual(documented.sort());
  expect(documented).toHaveLength(OPERATIONS.length);
});

test.each(OPERATIONS.map((op) => `${op.method.toUpperCase()} ${op.path}`))('%s: national and bound keys of each role', async (name) => {
  await scenarios[name]!();
});
