import { type RequestHandler } from 'express';
import { z } from 'zod';
import { type Role } from '../platform/config';
import { caseEventSchema, caseStartSchema, identifier, policyRevisionSchema } from '../workflows/domain/schemas';
import { pathPattern } from './bodies';
import { CODEC_BODY_BYTES } from './codec-server';
import { ApiError } from './errors';
import { rebuildSchema, repairSchema, verifyQuerySchema } from './routes/ops';
import { reportQuerySchemas } from './routes/reports';
import { SIMULATE_LIMITS, simulateSchema } from './routes/timeline';

/** A JSON Schema (2020-12, as OpenAPI 3.1 takes it). */
type JsonSchema = Record<string, unknown>;

/**
 * The API's operations, described once: the OpenAPI 3.1 document is generated from this list and from the
 * same zod schemas that validate the requests (a test checks the list against the routes Express serves, and a
 * property-based test checks every answer against it: test/integration/contract.test.ts).
 */
export interface Operation {
  method: 'get' | 'post';
  /** OpenAPI form: /api/v1/cases/{caseId}. */
  path: string;
  summary: string;
  /** null: open, no key needed. */
  roles: Role[] | null;
  body?: z.ZodType;
  /** The most bytes of body the route reads (api/bodies.ts enforces it, this document states it); every route with a body has one. */
  bodyBytes?: number;
  query?: z.ZodObject | z.ZodType;
  /** The answers of this route itself; those every route can give (400, 405, 413, and 401, 403, 429 where keys and writes apply) are added. */
  responses: Record<string, string>;
  /** The JSON body of each success status; a status not named here answers the Error shape (4xx) or `{ type: object }`. */
  schemas?: Record<string, JsonSchema>;
  csv?: boolean;
  /** The 200 answer is also an SVG picture, with `Accept: image/svg+xml`. */
  svg?: boolean;
  /** The 200 answer is only this type (a picture, a page, Prometheus text), not JSON. */
  produces?: 'image/svg+xml' | 'text/html' | 'text/plain';
  /** The 401 of a route that takes its own key (HTTP Basic for the caseworker page, METRICS_KEY for /metrics). */
  unauthorized?: string;
}

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const date = { type: 'string', format: 'date' } as const;
const nullable = (schema: JsonSchema): JsonSchema => ({ anyOf: [schema, { type: 'null' }] });
const object = (properties: Record<string, JsonSchema>, required: string[] = Object.keys(properties)): JsonSchema => ({ type: 'object', required, properties });
const arrayOf = (items: JsonSchema): JsonSchema => ({ type: 'array', items });

const deadline = object(
  { id: str, kind: str, title: str, dueDate: nullable(date), originalDueDate: date, status: str, metOn: nullable(date), daysLate: nullable(int), reasons: arrayOf(str), policyIds: arrayOf(str) },
  ['id', 'kind', 'title', 'dueDate', 'originalDueDate', 'status', 'metOn', 'daysLate', 'reasons', 'policyIds'],
);
const timeline = object(
  {
    caseId: str,
    municipality: str,
    firstAbsenceDay: date,
    employment: str,
    ruleSetId: str,
    asOf: date,
    status: { enum: ['open', 'job-clarification', 'closed'] },
    closedOn: nullable(date),
    reviewPoint: date,
    deadlines: arrayOf(deadline),
    policies: arrayOf(object({ policyId: str, revision: int, state: str }, ['policyId', 'revision', 'state'])),
    nextChangeOn: nullable(date),
  },
  ['caseId', 'municipality', 'firstAbsenceDay', 'status', 'reviewPoint', 'deadlines', 'policies'],
);
const caseView = { ...timeline, properties: { ...(timeline.properties as object), workflowId: str, temporalUiUrl: str, caseworkerPageUrl: str }, required: [...(timeline.required as string[]), 'workflowId', 'temporalUiUrl', 'caseworkerPageUrl'] };
const fanout = object({ workflowId: str, kind: { enum: ['publish', 'resend'] }, status: { enum: ['pending', 'running', 'completed', 'superseded', 'abandoned'] }, matched: int, signalled: int, failed: int, passes: int, missing: nullable(int) }, ['workflowId', 'kind', 'status']);
const revision = object(
  { policyId: str, revision: int, title: str, effectiveFrom: date, effectiveTo: nullable(date), scope: { type: 'object' }, effects: arrayOf({ type: 'object' }), state: { enum: ['scheduled', 'active', 'ended'] }, applied: int, fanouts: arrayOf(fanout) },
  ['policyId', 'revision', 'title', 'effectiveFrom', 'scope', 'effects', 'state', 'applied', 'fanouts'],
);
const policy = { ...revision, properties: { ...(revision.properties as object), history: arrayOf(revision) }, required: [...(revision.required as string[]), 'history'] };
const reportRow = object({ caseId: str, municipality: str, deadlineId: str, kind: str, dueDate: date }, ['caseId', 'municipality', 'deadlineId', 'kind', 'dueDate']);
/** The reach of a bound key's report (absent for a national key). */
const reach = { municipalities: arrayOf(str) };

const base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/);
/** The codec server's request (api/codec-server.ts validates it). */
const CODEC_PAYLOADS = z.object({ payloads: z.array(z.object({ metadata: z.record(z.string(), base64).optional(), data: base64.optional() }).strict()).max(10_000) });

/** Bodies that every route can answer with besides its own, by status. */
const COMMON = {
  '400': 'Invalid input; `error.details` names each bad field (a CPR-like value in the body, query, path or X-Request-Id is refused too, and a body nested deeper than 32 levels)',
  '405': 'The path does not have this method; the Allow header lists those it has',
};
const size = (bytes: number) => (bytes >= 1024 * 1024 ? `${bytes / 1024 / 1024} MB` : `${bytes / 1024} kB`);
/** The answers of a route that reads a body, from its own limit. */
const BODY = (bytes: number) => ({
  '413': `The request body is larger than ${size(bytes)}`,
  '415': 'The body is not JSON (Content-Type: application/json), or is compressed (a Content-Encoding other than identity): no body is inflated',
});
const KEYED = { '401': 'No or unknown API key', '403': 'The key lacks the role, or is bound to municipalities the request reaches beyond' };
const RATED = { '429': 'More writes, or more reads, a second than this key may make (API_WRITE_RATE_PER_SECOND, API_READ_RATE_PER_SECOND, shared out over API_INSTANCES); Retry-After says when to try again' };
const NOT_FOUND_CASE = 'No such case (or a case in a municipality the key is not bound to: the same answer, so ids do not leak)';

export const OPERATIONS: Operation[] = [
  { method: 'get', path: '/healthz', summary: 'The process is up', roles: null, responses: { '200': 'Up' }, schemas: { '200': object({ status: { const: 'ok' } }) } },
  {
    method: 'get',
    path: '/readyz',
    summary: 'Temporal and Postgres answer',
    roles: null,
    responses: { '200': 'Ready', '503': 'Names what does not answer' },
    schemas: { '200': object({ status: { const: 'ready' }, checks: { type: 'object' } }), '503': object({ status: { const: 'not-ready' }, checks: { type: 'object' } }) },
  },
  {
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics; behind `Authorization: Bearer <METRICS_KEY>` when METRICS_KEY is set',
    roles: null,
    produces: 'text/plain',
    unauthorized: 'METRICS_KEY is set and the request does not carry it',
    responses: { '200': 'Metrics in the Prometheus text format' },
  },
  { method: 'get', path: '/api/v1/openapi.json', summary: 'This document', roles: null, responses: { '200': 'OpenAPI 3.1' }, schemas: { '200': object({ openapi: str, paths: { type: 'object' } }) } },
  { method: 'get', path: '/api/v1/docs', summary: 'Browsable documentation of this API', roles: null, produces: 'text/html', responses: { '200': 'HTML' } },
  {
    method: 'post',
    path: '/api/v1/cases',
    summary: 'Start a case (one workflow per case). A key bound to municipalities starts cases in those only',
    roles: ['case-system'],
    body: caseStartSchema,
    bodyBytes: 16 * 1024,
    responses: {
      '201': 'Started; the timeline',
      '200': 'The same case again; the existing timeline',
      '403': 'The key lacks the role, or is bound to other municipalities than the case\'s (`municipality-not-allowed`)',
      '409': 'The case exists with other data (for a bound key and a case elsewhere, without naming the fields)',
    },
    schemas: { '201': caseView, '200': caseView },
  },
  { method: 'get', path: '/api/v1/cases/{caseId}', summary: 'A case and its timeline', roles: ['case-system', 'reader'], responses: { '200': 'The timeline', '404': NOT_FOUND_CASE }, schemas: { '200': caseView } },
  {
    method: 'get',
    path: '/api/v1/cases/{caseId}/timeline.svg',
    summary: "The case's deadlines over time as a picture: original and current due dates, pause and waiver windows, met and missed marks, the review point and today",
    roles: ['case-system', 'reader'],
    produces: 'image/svg+xml',
    responses: { '200': 'SVG', '404': NOT_FOUND_CASE },
  },
  {
    method: 'get',
    path: '/caseworker/cases/{caseId}',
    summary: "The caseworker's page of a case (linked from its details in the Temporal UI): the timeline picture and the deadline table. The API key as Bearer, or as the password of HTTP Basic, which the browser asks for",
    roles: ['case-system', 'reader'],
    produces: 'text/html',
    unauthorized: 'No or unknown key; `WWW-Authenticate: Basic` makes the browser ask for it',
    responses: { '200': 'HTML', '404': NOT_FOUND_CASE },
  },
  {
    method: 'post',
    path: '/api/v1/cases/{caseId}/events',
    summary: 'Report an event of a case',
    roles: ['case-system'],
    body: caseEventSchema,
    bodyBytes: 16 * 1024,
    responses: { '200': '`applied` (false for a repeated eventId) and the new timeline', '400': 'Invalid or refused event, with the reason', '404': NOT_FOUND_CASE, '409': 'The case is closed (`case-closed`), or full (`case-limit-reached`: `details.limit` names maxEventsPerCase (500) or maxDeadlinesPerCase (600), `details.max` its value); the event was not applied' },
    schemas: { '200': { ...caseView, properties: { ...(caseView.properties as object), applied: { type: 'boolean' } }, required: [...caseView.required, 'applied'] } },
  },
  {
    method: 'post',
    path: '/api/v1/timeline/simulate',
    summary: `What-if: the timeline engine on given facts, events and policies (at most ${SIMULATE_LIMITS.events} events, ${SIMULATE_LIMITS.policies} policies and ${SIMULATE_LIMITS.effects} effects in all). Any municipality, bound key or not: nothing is read or started`,
    roles: ['case-system', 'reader'],
    body: simulateSchema,
    bodyBytes: 256 * 1024,
    responses: { '200': 'The timeline' },
    schemas: { '200': timeline },
    svg: true,
  },
  {
    method: 'post',
    path: '/api/v1/policy-changes',
    summary: 'Publish a policy change or a new revision of it (lifting sets effectiveTo). endedFor ends the policy only where an earlier revision reached (a first revision has none; 400 naming the municipalities otherwise). A key bound to municipalities publishes only revisions whose scope and endedFor reach its municipalities alone (a region only when it holds all of the region), of policies that reach nothing else',
    roles: ['ops'],
    body: policyRevisionSchema,
    bodyBytes: 64 * 1024,
    responses: {
      '201': 'Stored; fan-out started',
      '202': 'Stored; Temporal did not answer, so the fan-out is pending and is started by the next to notice (a retry, any API instance, ops repair)',
      '200': 'The same revision again; its fan-out made sure of',
      '403': 'The key lacks the role, or the revision (or the stored one it revises) reaches municipalities the key is not bound to (`municipality-not-allowed`)',
      '409': 'The revision exists with other content',
    },
    schemas: { '201': policy, '202': policy, '200': policy },
  },
  { method: 'get', path: '/api/v1/policy-changes', summary: 'Newest revision of every policy with fan-out progress. A key bound to municipalities sees the policies that reach them, `applied` counted in them, and its fan-outs\' state without their national counts', roles: ['ops', 'reader'], responses: { '200': 'Policies' }, schemas: { '200': object({ policies: arrayOf(revision) }) } },
  { method: 'get', path: '/api/v1/policy-changes/{policyId}', summary: 'A policy: newest revision, fan-outs, history (a bound key: as in the list, and 404 for a policy that never reached its municipalities)', roles: ['ops', 'reader'], responses: { '200': 'The policy', '404': 'No such policy (or one that never reached the key\'s municipalities: the same answer)' }, schemas: { '200': policy } },
  {
    method: 'get',
    path: '/api/v1/policy-changes/{policyId}/impact',
    summary: 'Cases touched and deadlines moved by a policy (a bound key: in its municipalities only)',
    roles: ['ops', 'reader'],
    responses: { '200': 'Impact', '404': 'No such policy' },
    schemas: { '200': object({ policyId: str, ...reach, casesTouched: int, deadlinesAffected: int, deadlinesMoved: int, byKind: arrayOf({ type: 'object' }) }, ['policyId', 'casesTouched', 'deadlinesAffected', 'deadlinesMoved', 'byKind']) },
    csv: true,
  },
  {
    method: 'post',
    path: '/api/v1/policy-changes/{policyId}/resend',
    summary: "Run a policy's fan-out again (a bound key: only a policy that reaches its municipalities alone)",
    roles: ['ops'],
    responses: { '202': 'Fan-out started, or stored pending while Temporal does not answer', '404': 'No such policy' },
    schemas: { '202': { ...policy, properties: { ...(policy.properties as object), fanoutWorkflowId: str }, required: [...policy.required, 'fanoutWorkflowId'] } },
  },
  {
    method: 'get',
    path: '/api/v1/ops/verify',
    summary:
      'Convergence: per newest policy revision the open cases in scope that lack it; read-model rows behind, ahead, of another run or other content than their case, or altered; cases older than graceSeconds that never ran; case_policies rows the case does not hold; fan-outs not started or dead. National keys only',
    roles: ['ops'],
    query: verifyQuerySchema,
    responses: { '200': 'The report; `ok` is true when nothing is missing, stale, pending or dead', '403': 'The key lacks the role or is bound to municipalities (`national-key-required`)' },
    schemas: {
      '200': object({
        checkedAt: str,
        graceSeconds: int,
        policies: arrayOf({ type: 'object' }),
        pendingFanouts: arrayOf(str),
        deadFanouts: arrayOf(str),
        readModel: object({ cases: int, behind: int, ahead: int, differs: int, altered: int, notRun: int, unverified: int, unfingerprinted: int, sample: arrayOf({ type: 'object' }) }),
        casePolicies: object({ stale: int, missing: int, sample: arrayOf({ type: 'object' }) }),
        ok: { type: 'boolean' },
      }),
    },
  },
  {
    method: 'post',
    path: '/api/v1/ops/repair',
    summary: 'One round of repair: start pending fan-outs, close the rows of dead ones (completed from the workflow result, or abandoned), signal the missing cases, rewrite stale rows from their case, make case_policies follow the rows. National keys only',
    roles: ['ops'],
    body: repairSchema,
    bodyBytes: 4 * 1024,
    responses: { '200': 'What was done', '403': 'The key lacks the role or is bound to municipalities (`national-key-required`)' },
    schemas: { '200': object({ fanoutsStarted: int, fanoutsClosed: int, signalled: int, rewritten: int, casePoliciesFixed: int }) },
  },
  {
    method: 'post',
    path: '/api/v1/ops/read-model/rebuild',
    summary: "Rewrite a page of cases' read-model rows from their workflows (after a restore of Postgres). National keys only",
    roles: ['ops'],
    body: rebuildSchema,
    bodyBytes: 4 * 1024,
    responses: { '200': 'Cases in the page, rows written, and the next page token', '403': 'The key lacks the role or is bound to municipalities (`national-key-required`)' },
    schemas: { '200': object({ cases: int, rewritten: int, nextPageToken: nullable(str) }) },
  },
  {
    method: 'get',
    path: '/codec/login',
    summary: 'Signs a browser in to the codec server (HTTP Basic, the API key as password): a session cookie the Temporal UI sends with its codec calls. National case-system and reader keys only',
    roles: ['case-system', 'reader'],
    produces: 'text/html',
    unauthorized: 'No or unknown key; `WWW-Authenticate: Basic` makes the browser ask for it',
    responses: { '200': 'Signed in', '403': 'The key lacks the role or is bound to municipalities (`national-key-required`)' },
  },
  {
    method: 'get',
    path: '/codec/logout',
    summary: "Signs a browser out of the codec server: clears the session cookie of /codec/login. Open: it removes only the caller's own cookie",
    roles: null,
    produces: 'text/html',
    responses: { '200': 'Signed out' },
  },
  ...(['decode', 'encode'] as const).map(
    (way): Operation => ({
      method: 'post',
      path: `/codec/${way}`,
      summary: `Temporal's remote codec protocol: ${way}s payloads with the engine's keys, for the Temporal UI and CLI. A key (Bearer) or a browser session from /codec/login; national case-system and reader keys only`,
      roles: ['case-system', 'reader'],
      body: CODEC_PAYLOADS,
    bodyBytes: CODEC_BODY_BYTES,
      responses: {
        '200': `The payloads ${way}d`,
        '403': 'The key lacks the role or is bound to municipalities, another namespace (X-Namespace), or a browser origin not in CODEC_CORS_ORIGINS',
        ...(way === 'decode' ? { '422': 'A payload could not be decrypted (unknown key id, altered)' } : {}),
      },
      schemas: { '200': { type: 'object', required: ['payloads'], properties: { payloads: arrayOf(object({ metadata: { type: 'object' }, data: str })) } } },
    }),
  ),
  ...(
    [
      ['overdue', 'Open deadlines past due, days overdue', object({ asOf: date, total: int, count: int, rows: arrayOf(reportRow) })],
      ['upcoming', 'Deadlines due in the next days', object({ asOf: date, days: int, count: int, rows: arrayOf(reportRow) })],
      ['timeliness', 'Timeliness of first conversations, deadlines moved by policy excluded', object({ from: date, to: date, asOf: date, municipality: nullable(str), ...reach, total: int, onTime: int, late: int, missed: int, excludedByPolicy: int, notYetDue: int, timelinessRate: nullable({ type: 'number' }), daysLateDistribution: { type: 'object' } }, ['from', 'to', 'asOf', 'municipality', 'total', 'onTime', 'late', 'missed', 'excludedByPolicy', 'notYetDue', 'timelinessRate', 'daysLateDistribution'])],
      ['conversation-modes', 'Conversations held, by mode', object({ from: date, to: date, municipality: nullable(str), ...reach, total: int, modes: { type: 'object' } }, ['from', 'to', 'municipality', 'total', 'modes'])],
    ] as const
  ).map(
    ([name, summary, schema]): Operation => ({
      method: 'get',
      path: `/api/v1/reports/${name}`,
      summary: `${summary}. A key bound to municipalities counts those only`,
      roles: ['reader'],
      query: reportQuerySchemas[name === 'conversation-modes' ? 'conversationModes' : name],
      responses: { '200': name === 'timeliness' ? 'Figures and the days-late distribution' : name === 'conversation-modes' ? 'Counts by mode' : 'Rows', '403': 'The key lacks the role, or asks for a municipality it is not bound to (`municipality-not-allowed`)' },
      schemas: { '200': schema },
      csv: true,
    }),
  ),
];

/** Every status an operation can answer, its own and those every route shares. */
export function responsesOf(op: Operation): Record<string, string> {
  const keyed = op.roles !== null || op.unauthorized !== undefined;
  return {
    ...op.responses,
    ...Object.fromEntries(Object.entries(COMMON).filter(([status]) => !(status in op.responses))),
    ...(op.bodyBytes ? BODY(op.bodyBytes) : {}),
    ...(keyed ? { '401': op.unauthorized ?? KEYED['401'] } : {}),
    ...(op.roles ? { '403': op.responses['403'] ?? KEYED['403'] } : {}),
    ...(op.roles ? RATED : {}),
    ...(op.responses['400'] ? { '400': op.responses['400'] } : {}),
  };
}

const jsonSchema = (schema: z.ZodType) => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

/** Path parameters are ids: the pattern and length the routes check. */
const PATH_PARAMETERS: Record<string, JsonSchema> = { caseId: jsonSchema(identifier('caseId')), policyId: jsonSchema(identifier('policyId')) };

function parameters(op: Operation) {
  const pathParams = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: PATH_PARAMETERS[m[1]!] ?? str }));
  if (!op.query) return pathParams;
  const schema = jsonSchema(op.query) as { properties?: Record<string, unknown>; required?: string[] };
  const queryParams = Object.entries(schema.properties ?? {}).map(([name, s]) => ({ name, in: 'query', required: schema.required?.includes(name) ?? false, schema: s }));
  return [...pathParams, ...queryParams];
}

function content(op: Operation, status: string): Record<string, { schema: JsonSchema }> {
  if (Number(status) >= 400) return { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } };
  if (op.produces && status === '200') return { [op.produces]: { schema: str } };
  return {
    'application/json': { schema: op.schemas?.[status] ?? { type: 'object' } },
    ...(op.csv && status === '200' ? { 'text/csv': { schema: str } } : {}),
    ...(op.svg && status === '200' ? { 'image/svg+xml': { schema: str } } : {}),
  };
}

export function openApiDocument(serverUrl?: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    paths[op.path] ??= {};
    const responses = responsesOf(op);
    paths[op.path]![op.method] = {
      summary: op.summary,
      ...(op.roles ? { security: [{ apiKey: [] }], 'x-roles': op.roles, description: `Roles: ${op.roles.join(', ')}` } : { security: [] }),
      parameters: parameters(op),
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(op.body) } } } } : {}),
      responses: Object.fromEntries(
        Object.keys(responses)
          .sort()
          .map((status) => [
            status,
            {
              description: responses[status],
              ...(status === '405' ? { headers: { Allow: { description: 'The methods the path has', schema: str } } } : {}),
              ...(status === '429' ? { headers: { 'Retry-After': { description: 'Seconds to wait', schema: int } } } : {}),
              content: content(op, status),
            },
          ]),
      ),
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Sygedagpenge follow-up engine',
      version: '1',
      description:
        'Follow-up of Danish sickness-benefit cases: cases and events from case systems, policy changes from operations, reports for managers. ' +
        'A key bound to municipalities reaches their cases, reports and policies only (README, Municipality tenancy).',
    },
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key with the role the operation names' } },
      schemas: {
        Error: object({
          error: object({
            code: str,
            message: str,
            details: { anyOf: [{ type: 'null' }, arrayOf(object({ field: str, problem: str })), { type: 'object' }] },
          }),
        }),
      },
    },
    paths,
  };
}

const PATH_PATTERNS = (operations: Operation[]) => {
  const byPath = new Map<string, Set<string>>();
  for (const op of operations) byPath.set(op.path, (byPath.get(op.path) ?? new Set()).add(op.method.toUpperCase()));
  return [...byPath].map(([path, methods]) => ({
    pattern: pathPattern(path),
    allow: [...methods, ...(methods.has('GET') ? ['HEAD'] : [])],
  }));
};

/**
 * 405 for a method a documented path does not have, with `Allow` naming those it has; before any key is
 * asked for (the methods of a path are in the public document anyway). OPTIONS is left to Express.
 */
export function methodNotAllowed(operations: Operation[]): RequestHandler {
  const paths = PATH_PATTERNS(operations);
  return (req, res, next) => {
    if (req.method === 'OPTIONS') return next();
    const path = paths.find((p) => p.pattern.test(req.path));
    if (!path || path.allow.includes(req.method)) return next();
    res.set('Allow', path.allow.join(', '));
    throw new ApiError(405, 'method-not-allowed', `${req.method} is not a method of ${req.path.replace(/\/$/, '')}; it has ${path.allow.join(', ')}`);
  };
}

const escape = (text: string) => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A self-contained documentation page (no scripts, nothing fetched from elsewhere). */
export function docsPage(): string {
  const sections = OPERATIONS.map((op) => {
    const schema = op.body ? `<details><summary>Request body</summary><pre>${escape(JSON.stringify(jsonSchema(op.body), null, 2))}</pre></details>` : '';
    const query = op.query ? `<details><summary>Query</summary><pre>${escape(JSON.stringify(jsonSchema(op.query), null, 2))}</pre></details>` : '';
    const responses = Object.entries(responsesOf(op)).sort().map(([s, d]) => `<li><code>${s}</code> ${escape(d)}</li>`).join('');
    return `<section><h2><span class="m ${op.method}">${op.method.toUpperCase()}</span> <code>${escape(op.path)}</code></h2>
<p>${escape(op.summary)}. <em>${op.roles ? `Roles: ${op.roles.join(', ')}` : 'Open'}</em>${op.csv ? ' · JSON, or CSV with <code>Accept: text/csv</code>' : ''}${op.svg ? ' · JSON, or SVG with <code>Accept: image/svg+xml</code>' : ''}${op.produces ? ` · <code>${op.produces}</code>` : ''}</p>${schema}${query}<ul>${responses}</ul></section>`;
  }).join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sygedagpenge follow-up engine API</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}h2{font-size:1.05rem;margin:1.6rem 0 .3rem}
.m{display:inline-block;min-width:3.5rem;padding:.1rem .4rem;border-radius:4px;color:#fff;font-size:.8rem;text-align:center}.get{background:#2b6cb0}.post{background:#2f855a}
pre{background:#f6f8fa;padding:.8rem;overflow:auto;font-size:.8rem}section{border-top:1px solid #ddd}</style></head><body>
<h1>Sygedagpenge follow-up engine API</h1><p>Send an API key as <code>Authorization: Bearer &lt;key&gt;</code>. Errors are <code>{ "error": { "code", "message", "details" } }</code>. Machine-readable: <a href="/api/v1/openapi.json">openapi.json</a> (OpenAPI 3.1).</p>
${sections}</body></html>`;
}
