import { type ErrorRequestHandler, type RequestHandler } from 'express';
import { type z } from 'zod';
import { describeIssues, issuesMessage } from '../workflows/domain/schemas';
import { type Logger } from '../platform/logger';

/** An error the API answers with: status, a stable code, a message and the details (e.g. bad fields). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = undefined,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Validates a request part with its schema; a bad one is a 400 naming each field and its problem. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, what = 'request body'): z.output<S> {
  const result = schema.safeParse(value ?? {});
  if (!result.success) {
    const details = describeIssues(result.error);
    throw new ApiError(400, 'invalid-request', `Invalid ${what}: ${issuesMessage(result.error)}`, details);
  }
  return result.data;
}

export const notFoundRoute: RequestHandler = (req, _res, next) => {
  next(new ApiError(404, 'not-found', `No route ${req.method} ${req.path}`));
};

/** What body-parser refuses with (a status it sets and exposes), as the API's own error: never a 500. */
function bodyRefusal(err: unknown): ApiError | undefined {
  const e = err as { type?: string; status?: number; expose?: boolean; limit?: number; encoding?: string; charset?: string };
  if (!e || typeof e.type !== 'string' || typeof e.status !== 'number' || !e.expose || e.status < 400 || e.status >= 500) return undefined;
  switch (e.type) {
    case 'entity.parse.failed':
      return new ApiError(400, 'invalid-json', 'The request body is not valid JSON');
    case 'entity.too.large':
      return new ApiError(413, 'payload-too-large', `The request body is larger than this route's limit of ${e.limit} bytes`);
    case 'encoding.unsupported':
      return new ApiError(415, 'content-encoding-refused', 'Compressed request bodies are refused: send the body without Content-Encoding');
    case 'charset.unsupported':
      return new ApiError(415, 'charset-unsupported', 'The request body must be UTF-8');
    default:
      return new ApiError(e.status, e.type.replace(/[^a-z]+/g, '-'), 'The request body could not be read');
  }
}

/** The one place errors become responses: `{ error: { code, message, details } }`, never a stack trace. */
export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    if (err instanceof ApiError) {
      res.status(err.status).json({ error: { code: err.code, message: err.message, details: err.details ?? null } });
      return;
    }
    const refused = bodyRefusal(err);
    if (refused) {
      res.status(refused.status).json({ error: { code: refused.code, message: refused.message, details: null } });
      return;
    }
    logger.error('unhandled error', { method: req.method, path: req.route?.path ?? 'unknown', error: err instanceof Error ? err.message : String(err) });
    res.status(500).json({ error: { code: 'internal', message: 'Internal error', details: null } });
  };
}
