import { z } from 'zod';
import { caseEventSchema, caseStartSchema, policyRevisionSchema } from '../../workflows/domain/schemas';
import { CODEC_BODY_BYTES } from '../codec-server';
import { rebuildSchema, repairSchema, verifyQuerySchema } from '../routes/ops';
import { reportQuerySchemas } from '../routes/reports';
import { SIMULATE_LIMITS, simulateSchema } from '../routes/timeline';
import { type Operation } from './operation';
import { arrayOf, caseView, date, int, nullable, object, policy, reach, reportRow, revision, str, timeline } from './schemas';

const base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/);
/** The codec server's request (api/codec-server.ts validates it). */
const CODEC_PAYLOADS = z.object({ payloads: z.array(z.object({ metadata: z.record(z.string(), base64).optional(), data: base64.optional() }).strict()).max(10_000) });

const NOT_FOUND_CASE = 'No such case (or a case in a municipality the key is not bound to: the same answer, so ids do not leak)';

/**
 * The API's operations, described once: the OpenAPI 3.1 document is generated from this list and from the
 * same zod schemas that validate the requests (a test checks the list against the routes Express serves, and a
 * property-based test checks every answer against it: test/integration/contract.test.ts).
 */
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
