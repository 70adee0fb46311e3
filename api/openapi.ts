import { z } from 'zod';
import { type Role } from '../platform/config';
import { caseEventSchema, caseStartSchema, policyRevisionSchema } from '../workflows/domain/schemas';
import { rebuildSchema, repairSchema } from './routes/ops';
import { reportQuerySchemas } from './routes/reports';
import { simulateSchema } from './routes/timeline';

/**
 * The API's operations, described once: the OpenAPI 3.1 document is generated from this list and from the
 * same zod schemas that validate the requests (a test checks the list against the routes Express serves).
 */
export interface Operation {
  method: 'get' | 'post';
  /** OpenAPI form: /api/v1/cases/{caseId}. */
  path: string;
  summary: string;
  /** null: open, no key needed. */
  roles: Role[] | null;
  body?: z.ZodType;
  query?: z.ZodObject | z.ZodType;
  responses: Record<string, string>;
  csv?: boolean;
  /** The 200 answer is also an SVG picture, with `Accept: image/svg+xml`. */
  svg?: boolean;
  /** The 200 answer is only this type (a picture or a page), not JSON. */
  produces?: 'image/svg+xml' | 'text/html';
}

const errors = { '400': 'Invalid input; `error.details` names each bad field', '401': 'No or unknown API key', '403': 'The key lacks the role' };

export const OPERATIONS: Operation[] = [
  { method: 'get', path: '/healthz', summary: 'The process is up', roles: null, responses: { '200': 'Up' } },
  { method: 'get', path: '/readyz', summary: 'Temporal and Postgres answer', roles: null, responses: { '200': 'Ready', '503': 'Names what does not answer' } },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics', roles: null, responses: { '200': 'Metrics in the Prometheus text format' } },
  { method: 'get', path: '/api/v1/openapi.json', summary: 'This document', roles: null, responses: { '200': 'OpenAPI 3.1' } },
  { method: 'get', path: '/api/v1/docs', summary: 'Browsable documentation of this API', roles: null, responses: { '200': 'HTML' } },
  {
    method: 'post',
    path: '/api/v1/cases',
    summary: 'Start a case (one workflow per case)',
    roles: ['case-system'],
    body: caseStartSchema,
    responses: { '201': 'Started; the timeline', '200': 'The same case again; the existing timeline', '409': 'The case exists with other data', ...errors },
  },
  { method: 'get', path: '/api/v1/cases/{caseId}', summary: 'A case and its timeline', roles: ['case-system', 'reader'], responses: { '200': 'The timeline', '404': 'No such case', ...errors } },
  {
    method: 'get',
    path: '/api/v1/cases/{caseId}/timeline.svg',
    summary: "The case's deadlines over time as a picture: original and current due dates, pause and waiver windows, met and missed marks, the review point and today",
    roles: ['case-system', 'reader'],
    produces: 'image/svg+xml',
    responses: { '200': 'SVG', '404': 'No such case', ...errors },
  },
  {
    method: 'get',
    path: '/caseworker/cases/{caseId}',
    summary: "The caseworker's page of a case (linked from its details in the Temporal UI): the timeline picture and the deadline table. The API key as Bearer, or as the password of HTTP Basic, which the browser asks for",
    roles: ['case-system', 'reader'],
    produces: 'text/html',
    responses: { '200': 'HTML', '404': 'No such case', ...errors },
  },
  {
    method: 'post',
    path: '/api/v1/cases/{caseId}/events',
    summary: 'Report an event of a case',
    roles: ['case-system'],
    body: caseEventSchema,
    responses: { '200': '`applied` (false for a repeated eventId) and the new timeline', '400': 'Invalid or refused event, with the reason', '404': 'No such case', '409': 'The case is closed', '401': errors['401'], '403': errors['403'] },
  },
  { method: 'post', path: '/api/v1/timeline/simulate', summary: 'What-if: the timeline engine on given facts, events and policies', roles: ['case-system', 'reader'], body: simulateSchema, responses: { '200': 'The timeline', ...errors }, svg: true },
  {
    method: 'post',
    path: '/api/v1/policy-changes',
    summary: 'Publish a policy change or a new revision of it (lifting sets effectiveTo)',
    roles: ['ops'],
    body: policyRevisionSchema,
    responses: { '201': 'Stored; fan-out started', '202': 'Stored; Temporal did not answer, so the fan-out is pending and is started by the next to notice (a retry, any API instance, ops repair)', '200': 'The same revision again; its fan-out made sure of', '409': 'The revision exists with other content', ...errors },
  },
  { method: 'get', path: '/api/v1/policy-changes', summary: 'Newest revision of every policy with fan-out progress', roles: ['ops', 'reader'], responses: { '200': 'Policies', ...errors } },
  { method: 'get', path: '/api/v1/policy-changes/{policyId}', summary: 'A policy: newest revision, fan-outs, history', roles: ['ops', 'reader'], responses: { '200': 'The policy', '404': 'No such policy', ...errors } },
  { method: 'get', path: '/api/v1/policy-changes/{policyId}/impact', summary: 'Cases touched and deadlines moved by a policy', roles: ['ops', 'reader'], responses: { '200': 'Impact', '404': 'No such policy', ...errors }, csv: true },
  { method: 'post', path: '/api/v1/policy-changes/{policyId}/resend', summary: "Run a policy's fan-out again", roles: ['ops'], responses: { '202': 'Fan-out started', '404': 'No such policy', ...errors } },
  {
    method: 'get',
    path: '/api/v1/ops/verify',
    summary: 'Convergence: per newest policy revision the open cases in scope that lack it, read-model rows behind or ahead of their case, fan-outs not started',
    roles: ['ops'],
    responses: { '200': 'The report; `ok` is true when nothing is missing, stale or pending', ...errors },
  },
  {
    method: 'post',
    path: '/api/v1/ops/repair',
    summary: 'One round of repair: start pending fan-outs, signal the missing cases, rewrite stale rows from their case',
    roles: ['ops'],
    body: repairSchema,
    responses: { '200': 'What was done', ...errors },
  },
  {
    method: 'post',
    path: '/api/v1/ops/read-model/rebuild',
    summary: "Rewrite a page of cases' read-model rows from their workflows (after a restore of Postgres)",
    roles: ['ops'],
    body: rebuildSchema,
    responses: { '200': 'Cases in the page, rows written, and the next page token', ...errors },
  },
  { method: 'get', path: '/api/v1/reports/overdue', summary: 'Open deadlines past due, days overdue', roles: ['reader'], query: reportQuerySchemas.overdue, responses: { '200': 'Rows', ...errors }, csv: true },
  { method: 'get', path: '/api/v1/reports/upcoming', summary: 'Deadlines due in the next days', roles: ['reader'], query: reportQuerySchemas.upcoming, responses: { '200': 'Rows', ...errors }, csv: true },
  {
    method: 'get',
    path: '/api/v1/reports/timeliness',
    summary: 'Timeliness of first conversations, deadlines moved by policy excluded',
    roles: ['reader'],
    query: reportQuerySchemas.timeliness,
    responses: { '200': 'Figures and the days-late distribution', ...errors },
    csv: true,
  },
  { method: 'get', path: '/api/v1/reports/conversation-modes', summary: 'Conversations held, by mode', roles: ['reader'], query: reportQuerySchemas.conversationModes, responses: { '200': 'Counts by mode', ...errors }, csv: true },
];

const jsonSchema = (schema: z.ZodType) => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

function parameters(op: Operation) {
  const pathParams = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
  if (!op.query) return pathParams;
  const schema = jsonSchema(op.query) as { properties?: Record<string, unknown>; required?: string[] };
  const queryParams = Object.entries(schema.properties ?? {}).map(([name, s]) => ({ name, in: 'query', required: schema.required?.includes(name) ?? false, schema: s }));
  return [...pathParams, ...queryParams];
}

export function openApiDocument(serverUrl?: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    paths[op.path] ??= {};
    paths[op.path]![op.method] = {
      summary: op.summary,
      ...(op.roles ? { security: [{ apiKey: [] }], 'x-roles': op.roles, description: `Roles: ${op.roles.join(', ')}` } : { security: [] }),
      parameters: parameters(op),
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(op.body) } } } } : {}),
      responses: Object.fromEntries(
        Object.entries(op.responses).map(([status, description]) => [
          status,
          {
            description,
            content: {
              ...(op.produces && status === '200'
                ? { [op.produces]: { schema: { type: 'string' } } }
                : { 'application/json': { schema: Number(status) >= 400 ? { $ref: '#/components/schemas/Error' } : { type: 'object' } } }),
              ...(op.csv && status === '200' ? { 'text/csv': { schema: { type: 'string' } } } : {}),
              ...(op.svg && status === '200' ? { 'image/svg+xml': { schema: { type: 'string' } } } : {}),
            },
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
      description: 'Follow-up of Danish sickness-benefit cases: cases and events from case systems, policy changes from operations, reports for managers.',
    },
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key with the role the operation names' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} } } },
        },
      },
    },
    paths,
  };
}

const escape = (text: string) => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A self-contained documentation page (no scripts, nothing fetched from elsewhere). */
export function docsPage(): string {
  const sections = OPERATIONS.map((op) => {
    const schema = op.body ? `<details><summary>Request body</summary><pre>${escape(JSON.stringify(jsonSchema(op.body), null, 2))}</pre></details>` : '';
    const query = op.query ? `<details><summary>Query</summary><pre>${escape(JSON.stringify(jsonSchema(op.query), null, 2))}</pre></details>` : '';
    const responses = Object.entries(op.responses).map(([s, d]) => `<li><code>${s}</code> ${escape(d)}</li>`).join('');
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
