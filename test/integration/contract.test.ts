import fc from 'fast-check';
import { type ApiKey } from '../../platform/config';
import { addDays, copenhagenDate } from '../../workflows/domain/dates';
import { startSystem, type TestSystem } from '../support/system';

/**
 * The OpenAPI document as a contract, checked from outside: requests generated from the document itself
 * (bodies and parameters from its schemas, valid and broken, random path parameters, methods a path does not
 * have, with and without keys of every kind) against the real system. No answer may be a 5xx, and every
 * answer's status and content type must be documented for its operation, its JSON body matching the schema.
 */
type Schema = Record<string, any>;
interface Doc {
  paths: Record<string, Record<string, { parameters?: { name: string; in: string; required: boolean; schema: Schema }[]; requestBody?: { content: Record<string, { schema: Schema }> }; responses: Record<string, { description?: string; content?: Record<string, { schema: Schema }>; headers?: Record<string, unknown> }> }>>;
  components: { schemas: Record<string, Schema> };
}

const BOUND: ApiKey[] = [
  { role: 'case-system', key: 'contract-bound-case-system-101', municipalities: ['101'] },
  { role: 'reader', key: 'contract-bound-reader-101-0001', municipalities: ['101'] },
  { role: 'ops', key: 'contract-bound-ops-101-0000001', municipalities: ['101'] },
];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

let system: TestSystem;
let doc: Doc;
const known = { caseIds: [] as string[], policyIds: [] as string[] };

beforeAll(async () => {
  system = await startSystem({ taskQueue: 'contract', extraApiKeys: BOUND });
  doc = (await system.api('GET', '/api/v1/openapi.json', undefined, null)).body as Doc;
  const today = copenhagenDate(Date.now());
  for (const [caseId, municipality] of [
    ['CONTRACT-101', '101'],
    ['CONTRACT-751', '751'],
  ]) {
    expect((await system.api('POST', '/api/v1/cases', { caseId, citizenRef: `R-${caseId}`, municipality, firstAbsenceDay: addDays(today, -30) })).status).toBe(201);
    known.caseIds.push(caseId!);
  }
  const policy = { policyId: 'CONTRACT-P', revision: 1, title: 'Contract', effectiveFrom: addDays(today, 300), scope: { type: 'all' }, effects: [{ type: 'waiveDeadlines' }] };
  expect((await system.api('POST', '/api/v1/policy-changes', policy)).status).toBe(201);
  known.policyIds.push('CONTRACT-P');
}, 120_000);

afterAll(async () => {
  await system?.stop();
});

const resolve = (schema: Schema): Schema => (schema.$ref ? resolve(doc.components.schemas[String(schema.$ref).split('/').pop()!]!) : schema);

/** The JSON Schema keywords the document uses; returns the problems, each with its place. */
function check(schema: Schema, value: unknown, at = '$'): string[] {
  const s = resolve(schema);
  const problems: string[] = [];
  const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v);
  if (s.anyOf || s.oneOf) {
    const options = (s.anyOf ?? s.oneOf) as Schema[];
    const passing = options.filter((o) => check(o, value, at).length === 0).length;
    if (s.oneOf ? passing !== 1 : passing === 0) problems.push(`${at}: matches ${passing} of ${options.length} alternatives`);
  }
  for (const sub of (s.allOf ?? []) as Schema[]) problems.push(...check(sub, value, at));
  if (s.const !== undefined && value !== s.const) problems.push(`${at}: is not ${JSON.stringify(s.const)}`);
  if (s.enum && !(s.enum as unknown[]).includes(value)) problems.push(`${at}: is not one of the enum`);
  if (s.type) {
    const types = ([] as string[]).concat(s.type);
    const actual = typeOf(value);
    if (!types.includes(actual) && !(actual === 'integer' && types.includes('number'))) return [...problems, `${at}: is ${actual}, not ${types.join(' or ')}`];
  }
  if (typeof value === 'string') {
    if (s.pattern && !new RegExp(s.pattern as string, 'u').test(value)) problems.push(`${at}: does not match ${s.pattern}`);
    if (s.minLength !== undefined && value.length < s.minLength) problems.push(`${at}: shorter than ${s.minLength}`);
    if (s.maxLength !== undefined && value.length > s.maxLength) problems.push(`${at}: longer than ${s.maxLength}`);
  }
  if (typeof value === 'number') {
    if (s.minimum !== undefined && value < s.minimum) problems.push(`${at}: below ${s.minimum}`);
    if (s.maximum !== undefined && value > s.maximum) problems.push(`${at}: above ${s.maximum}`);
  }
  if (Array.isArray(value) && s.items) value.forEach((v, i) => problems.push(...check(s.items as Schema, v, `${at}[${i}]`)));
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    for (const name of (s.required ?? []) as string[]) if (!(name in record)) problems.push(`${at}.${name}: is missing`);
    for (const [name, v] of Object.entries(record)) {
      const property = (s.properties as Record<string, Schema> | undefined)?.[name];
      if (property) problems.push(...check(property, v, `${at}.${name}`));
      else if (s.additionalProperties === false) problems.push(`${at}.${name}: is not allowed`);
      else if (s.additionalProperties && typeof s.additionalProperties === 'object') problems.push(...check(s.additionalProperties as Schema, v, `${at}.${name}`));
    }
  }
  return problems;
}

const date = fc.date({ min: new Date('1990-01-01'), max: new Date('2035-12-31'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));

/** Values a schema accepts (as far as JSON Schema says: refinements the document cannot state may still refuse them). */
function valid(schema: Schema, depth = 0): fc.Arbitrary<unknown> {
  const s = resolve(schema);
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...(s.enum as unknown[]));
  if (s.anyOf || s.oneOf) return fc.oneof(...((s.anyOf ?? s.oneOf) as Schema[]).map((o) => valid(o, depth + 1)));
  if (s.allOf) return valid(Object.assign({}, ...(s.allOf as Schema[])), depth);
  const type = ([] as string[]).concat(s.type ?? 'any')[0];
  switch (type) {
    case 'string':
      if (s.format === 'date') return date;
      if (s.pattern) return fc.stringMatching(new RegExp(s.pattern as string)).map((v) => v.slice(0, s.maxLength ?? 40)).filter((v) => v.length >= (s.minLength ?? 0) && new RegExp(s.pattern as string).test(v));
      return fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 20, 20) });
    case 'integer':
      return fc.integer({ min: s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : -5), max: Math.min(s.maximum ?? 400, 400) });
    case 'number':
      return fc.double({ min: s.minimum ?? -1e3, max: s.maximum ?? 1e3, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return depth > 4 ? fc.constant([]) : fc.array(valid((s.items as Schema) ?? {}, depth + 1), { minLength: s.minItems ?? 0, maxLength: Math.min(s.maxItems ?? 3, 3) });
    case 'object': {
      const properties = (s.properties ?? {}) as Record<string, Schema>;
      if (depth > 4) return fc.constant({});
      const required = new Set((s.required ?? []) as string[]);
      return fc.record(Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, valid(v, depth + 1)])), { requiredKeys: [...required] });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** A valid value broken in one way: a field dropped, a field of the wrong type, a field too many, or anything at all. */
function broken(schema: Schema): fc.Arbitrary<unknown> {
  return fc.oneof(
    valid(schema).chain((v) => {
      if (!v || typeof v !== 'object' || Array.isArray(v)) return fc.constant(v);
      const keys = Object.keys(v);
      if (keys.length === 0) return fc.constant({ unexpected: 1 });
      return fc.tuple(fc.constantFrom(...keys), fc.constantFrom('drop', 'retype', 'extra'), fc.jsonValue({ maxDepth: 1 })).map(([k, how, other]) => {
        const copy = { ...(v as Record<string, unknown>) };
        if (how === 'drop') delete copy[k];
        else if (how === 'retype') copy[k] = typeof copy[k] === 'string' ? 42 : 'not-the-type';
        else copy[`${k}Extra`] = other;
        return copy;
      });
    }),
    fc.jsonValue({ maxDepth: 2 }),
  );
}

const keyArb = fc.constantFrom<{ authorization?: string }>(
  {},
  { authorization: 'Bearer not-a-key-of-this-api' },
  { authorization: 'Basic eDpub3Qta2V5' },
  ...(['case-system', 'reader', 'ops'] as const).map((role) => ({ authorization: `Bearer test-key-${role === 'case-system' ? 'case-system-0001' : role === 'ops' ? 'ops-000000000001' : 'reader-000000001'}` })),
  ...BOUND.map((k) => ({ authorization: `Bearer ${k.key}` })),
);

interface Generated {
  path: string;
  template: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

function requestArb(): fc.Arbitrary<Generated> {
  const templates = Object.keys(doc.paths);
  return fc.constantFrom(...templates).chain((template) => {
    const ops = doc.paths[template]!;
    const documented = Object.keys(ops).map((m) => m.toUpperCase());
    return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...documented) }, { weight: 1, arbitrary: fc.constantFrom(...METHODS) }).chain((method) => {
      const op = ops[method.toLowerCase()] ?? Object.values(ops)[0]!;
      const params = op.parameters ?? [];
      const pathParams = params.filter((p) => p.in === 'path');
      const queryParams = params.filter((p) => p.in === 'query');
      const pathValue = (name: string, schema: Schema) =>
        fc.oneof(
          valid(schema),
          fc.constantFrom(...(name === 'caseId' ? known.caseIds : known.policyIds)),
          fc.string({ minLength: 1, maxLength: 120 }),
          fc.constantFrom('010203-1234', '010203 1234', 'a'.repeat(101)),
        ).filter((v) => typeof v === 'string' && v !== '.' && v !== '..' && v.length > 0);
      const pathArb = fc.tuple(...pathParams.map((p) => pathValue(p.name, p.schema))).map((values) => {
        let path = template;
        pathParams.forEach((p, i) => (path = path.replace(`{${p.name}}`, encodeURIComponent(values[i] as string))));
        return path;
      });
      const queryArb = fc
        .tuple(
          ...queryParams.map((p) => fc.option(fc.oneof(valid(p.schema), fc.string({ maxLength: 12 }), fc.constant('010203 1234')), { nil: undefined })),
          fc.option(fc.string({ minLength: 1, maxLength: 8 }), { nil: undefined }),
        )
        .map((values) => {
          const search = new URLSearchParams();
          queryParams.forEach((p, i) => values[i] !== undefined && search.set(p.name, String(values[i])));
          const extra = values[queryParams.length];
          if (extra !== undefined) search.set(`x${extra}`, '1');
          const text = search.toString();
          return text ? `?${text}` : '';
        });
      const bodySchema = op.requestBody?.content['application/json']?.schema;
      const bodyArb: fc.Arbitrary<string | undefined> = bodySchema
        ? fc.oneof({ weight: 3, arbitrary: valid(bodySchema) }, { weight: 2, arbitrary: broken(bodySchema) }, { weight: 1, arbitrary: fc.constant('{not json') }).map((b) => (typeof b === 'string' && b === '{not json' ? b : JSON.stringify(b)))
        : fc.option(fc.jsonValue({ maxDepth: 1 }).map((v) => JSON.stringify(v)), { nil: undefined, freq: 4 });
      const headersArb = fc.record({
        key: keyArb,
        accept: fc.constantFrom('application/json', 'text/csv', 'image/svg+xml', '*/*', 'text/html'),
        requestId: fc.option(fc.constantFrom('req-1', '010203 1234', 'has space'), { nil: undefined }),
      });
      return fc.record({ path: pathArb, query: queryArb, body: bodyArb, headers: headersArb }).map(({ path, query, body, headers }) => ({
        path: `${path}${query}`,
        template,
        method,
        body: method === 'GET' ? undefined : body,
        headers: {
          ...headers.key,
          accept: headers.accept,
          ...(headers.requestId ? { 'x-request-id': headers.requestId } : {}),
          ...(body !== undefined && method !== 'GET' ? { 'content-type': 'application/json' } : {}),
        },
      }));
    });
  });
}

test('every generated request gets a documented answer and never a server error', async () => {
  const seen = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(requestArb(), async (req) => {
      const res = await fetch(`${system.base}${req.path}`, { method: req.method, headers: req.headers, body: req.body });
      const text = await res.text();
      const what = `${req.method} ${req.path} -> ${res.status} ${text.slice(0, 300)}`;
      expect([what, res.status < 500]).toEqual([what, true]);
      const op = doc.paths[req.template]![req.method.toLowerCase()];
      if (!op) {
        // A method the path does not have: 405 with Allow, unless the request was bad before its method mattered
        // (a CPR-like X-Request-Id, a body that is not JSON): answers every operation of the path documents.
        expect([what, Object.values(doc.paths[req.template]!).every((o) => String(res.status) in o.responses)]).toEqual([what, true]);
        if (res.status === 405) expect([what, res.headers.get('allow')]).toEqual([what, expect.stringMatching(/^[A-Z]+(, [A-Z]+)*$/)]);
        expect([what, (res.headers.get('content-type') ?? '').split(';')[0]]).toEqual([what, 'application/json']);
        expect([what, check({ $ref: '#/components/schemas/Error' }, JSON.parse(text))]).toEqual([what, []]);
        seen.set(String(res.status), (seen.get(String(res.status)) ?? 0) + 1);
        return;
      }
      const response = op.responses[String(res.status)];
      expect([what, response !== undefined]).toEqual([what, true]);
      const type = (res.headers.get('content-type') ?? '').split(';')[0]!;
      const content = response!.content ?? {};
      expect([what, type, type in content]).toEqual([what, type, true]);
      if (type === 'application/json') expect([what, check(content[type]!.schema, JSON.parse(text))]).toEqual([what, []]);
      seen.set(String(res.status), (seen.get(String(res.status)) ?? 0) + 1);
    }),
    { numRuns: 1500, interruptAfterTimeLimit: 25_000 },
  );
  // The generator reached the answers that matter, not only refusals.
  for (const status of ['200', '400', '401', '403', '404', '405']) expect([status, (seen.get(status) ?? 0) > 0]).toEqual([status, true]);
}, 120_000);

test('the document names the 98 municipality codes, the id patterns, 405 with Allow on every operation, and each body route its own size limit', () => {
  const start = doc.paths['/api/v1/cases']!.post!;
  const municipality = start.requestBody!.content['application/json']!.schema.properties.municipality;
  expect([municipality.enum.length, municipality.enum.slice(0, 2)]).toEqual([98, ['101', '147']]);
  const caseId = doc.paths['/api/v1/cases/{caseId}']!.get!.parameters!.find((p) => p.name === 'caseId')!;
  expect(caseId.schema).toMatchObject({ type: 'string', minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]*$' });
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const takesBody = op.requestBody !== undefined;
      expect([path, method, Object.keys(op.responses).filter((s) => ['400', '405', '413', '415'].includes(s))]).toEqual([path, method, takesBody ? ['400', '405', '413', '415'] : ['400', '405']]);
      expect(op.responses['405']!.headers).toHaveProperty('Allow');
    }
  }
  expect(Object.keys(doc.paths['/api/v1/policy-changes']!.post!.responses)).toEqual(['200', '201', '202', '400', '401', '403', '405', '409', '413', '415', '429']);
  const limits = Object.fromEntries(
    Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).filter(([, op]) => op.requestBody).map(([method, op]) => [`${method} ${path}`, op.responses['413']!.description])),
  );
  expect(limits).toEqual({
    'post /api/v1/cases': 'The request body is larger than 16 kB',
    'post /api/v1/cases/{caseId}/events': 'The request body is larger than 16 kB',
    'post /api/v1/timeline/simulate': 'The request body is larger than 256 kB',
    'post /api/v1/policy-changes': 'The request body is larger than 64 kB',
    'post /api/v1/ops/repair': 'The request body is larger than 4 kB',
    'post /api/v1/ops/read-model/rebuild': 'The request body is larger than 4 kB',
    'post /codec/decode': 'The request body is larger than 8 MB',
    'post /codec/encode': 'The request body is larger than 8 MB',
  });
});

test('a method a path does not have is a 405 naming those it has, before any key is asked for', async () => {
  const res = await fetch(`${system.base}/api/v1/cases/CONTRACT-101`, { method: 'DELETE' });
  expect([res.status, res.headers.get('allow'), ((await res.json()) as { error: unknown }).error]).toEqual([
    405,
    'GET, HEAD',
    { code: 'method-not-allowed', message: 'DELETE is not a method of /api/v1/cases/CONTRACT-101; it has GET, HEAD', details: null },
  ]);
  const post = await fetch(`${system.base}/api/v1/reports/overdue`, { method: 'POST' });
  expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
});
