import { z } from 'zod';
import { type Role } from '../../platform/config';

/*
 * What an operation of the API is, and the answers every route shares. The OpenAPI 3.1 document
 * (document.ts), the browsable page (docs-page.ts), the 405 middleware (method-not-allowed.ts) and the body
 * limits (api/bodies.ts) all read the one list of operations (operations.ts).
 */

/** A JSON Schema (2020-12, as OpenAPI 3.1 takes it). */
export type JsonSchema = Record<string, unknown>;

/** One route: its method and path, who may call it, what it reads and what it answers. */
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

/** The JSON Schema of a zod schema, as a request reads it. */
export const jsonSchema = (schema: z.ZodType) => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};
