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

/** The one place errors become responses: `{ error: { code, message, details } }`, never a stack trace. */
export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    if (err instanceof ApiError) {
      res.status(err.status).json({ error: { code: err.code, message: err.message, details: err.details ?? null } });
      return;
    }
    const bodyError = err as { type?: string; status?: number; message?: string };
    if (bodyError?.type === 'entity.parse.failed') {
      res.status(400).json({ error: { code: 'invalid-json', message: 'The request body is not valid JSON', details: null } });
      return;
    }
    if (bodyError?.type === 'entity.too.large') {
      res.status(413).json({ error: { code: 'payload-too-large', message: 'The request body is too large', details: null } });
      return;
    }
    logger.error('unhandled error', { method: req.method, path: req.route?.path ?? 'unknown', error: err instanceof Error ? err.message : String(err) });
    res.status(500).json({ error: { code: 'internal', message: 'Internal error', details: null } });
  };
}
