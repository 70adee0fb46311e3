import { identifier } from '../../workflows/domain/schemas';
import { type JsonSchema, jsonSchema, type Operation, responsesOf } from './operation';
import { OPERATIONS } from './operations';
import { arrayOf, int, object, str } from './schemas';

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

/** The OpenAPI 3.1 document of every operation; `serverUrl` is where the caller reached this API. */
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
