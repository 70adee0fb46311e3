import express, { type RequestHandler } from 'express';
import { ApiError } from './errors';
import { type Operation } from './openapi/operation';

/** The Express paths an OpenAPI path template matches (a parameter is one segment; a trailing slash is allowed). */
export const pathPattern = (path: string): RegExp => new RegExp(`^${path.replace(/[.]/g, '\\.').replace(/\{\w+\}/g, '[^/]+')}/?$`);

/**
 * How deep a JSON body may nest. No request of this API nests deeper than 6; a body nested thousands deep
 * (which a few kilobytes can be) would otherwise cost every recursive walk over it, and could overflow the stack.
 */
export const MAX_BODY_DEPTH = 32;

/** Whether `value` nests deeper than `max` arrays and objects. Iterative, so the check itself cannot overflow. */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * Reads a JSON body of at most `bytes`. A compressed body (`Content-Encoding` other than identity) is refused
 * with 415 before a byte is read, so nothing is inflated for anyone; a body that is not JSON is 415 too; a
 * body nested deeper than MAX_BODY_DEPTH is 400. Placed after authentication, like every use of it.
 */
export function jsonBody(bytes: number): RequestHandler {
  const read = express.json({ limit: bytes, inflate: false, strict: true, type: () => true });
  return (req, res, next) => {
    const declared = req.get('content-length');
    const empty = declared === '0' || (declared === undefined && req.get('transfer-encoding') === undefined);
    if (empty) return next();
    // Nothing is inflated for anyone: a small compressed body can stand for gigabytes.
    const encoding = (req.get('content-encoding') ?? 'identity').toLowerCase();
    if (encoding !== 'identity') {
      throw new ApiError(415, 'content-encoding-refused', 'Compressed request bodies are refused: send the body without Content-Encoding');
    }
    // A declared length over the limit is refused before a byte is read; body-parser would read the whole
    // body off the connection first, to throw it away.
    if (declared !== undefined && Number(declared) > bytes) {
      res.set('Connection', 'close');
      throw new ApiError(413, 'payload-too-large', `The request body is larger than this route's limit of ${bytes} bytes`);
    }
    if (!req.is('application/json')) {
      throw new ApiError(415, 'unsupported-media-type', `The request body must be JSON (Content-Type: application/json), not ${req.get('content-type') ?? 'untyped'}`);
    }
    read(req, res, (err?: unknown) => {
      if (err) return next(err);
      if (nestsDeeperThan(req.body, MAX_BODY_DEPTH)) {
        return next(new ApiError(400, 'too-deeply-nested', `The request body nests deeper than ${MAX_BODY_DEPTH} levels`, [{ field: '(body)', problem: `nests deeper than ${MAX_BODY_DEPTH} levels` }]));
      }
      next();
    });
  };
}

/**
 * The JSON body of each operation that takes one, read at that operation's own limit (`bodyBytes`), and no
 * body at all for any other path: mounted after authentication, so nothing of a request is read before its
 * key is known.
 */
export function jsonBodies(operations: Operation[]): RequestHandler {
  const readers = operations
    .filter((op) => op.body && op.bodyBytes)
    .map((op) => ({ method: op.method.toUpperCase(), pattern: pathPattern(op.path), read: jsonBody(op.bodyBytes!) }));
  return (req, res, next) => {
    const path = `${req.baseUrl}${req.path}`;
    const reader = readers.find((r) => r.method === req.method && r.pattern.test(path));
    if (!reader) return next();
    reader.read(req, res, next);
  };
}
