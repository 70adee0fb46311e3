import { createHash, timingSafeEqual } from 'node:crypto';
import { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { CPR_LIKE } from '../workflows/domain/schemas';
import { type ApiKey, type Role } from '../platform/config';
import { ApiError } from './errors';

/**
 * API keys as bearer tokens, each with one role (platform/config.ts reads them from API_KEYS):
 *   case-system  starts cases and reports events (and reads them)
 *   ops          publishes, lifts and re-sends policy changes
 *   reader       reads cases, policies and reports
 */
declare module 'express-serve-static-core' {
  interface Request {
    role?: Role;
    /** Which configured key authenticated the request (its position), for rate limiting; never the key. */
    keyId?: string;
  }
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** 401 without a valid `Authorization: Bearer <key>`. Keys are compared in constant time, as digests. */
export function authenticate(keys: ApiKey[]): RequestHandler {
  const known = keys.map((k, i) => ({ role: k.role, id: `${k.role}#${i}`, digest: digest(k.key) }));
  return (req, _res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new ApiError(401, 'unauthenticated', 'Send an API key as Authorization: Bearer <key>');
    const presented = digest(match[1]!);
    let found: (typeof known)[number] | undefined;
    // Compare with every key, so the time taken does not tell which one (or whether any) matched.
    for (const k of known) if (timingSafeEqual(k.digest, presented) && !found) found = k;
    if (!found) throw new ApiError(401, 'unauthenticated', 'Unknown API key');
    req.role = found.role;
    req.keyId = found.id;
    next();
  };
}

/** 403 unless the authenticated key has one of the roles. */
export function allow(...roles: Role[]): RequestHandler {
  return (req, _res, next) => {
    if (!req.role || !roles.includes(req.role)) {
      throw new ApiError(403, 'forbidden', `This needs the role ${roles.join(' or ')}; the key has the role ${req.role ?? 'none'}`);
    }
    next();
  };
}

/** Writes per key at most `perSecond` on average, in bursts of up to twice that (token bucket). */
export function rateLimitWrites(perSecond: number): RequestHandler {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const capacity = perSecond * 2;
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return next();
    const id = req.keyId ?? req.ip ?? 'anonymous';
    const now = Date.now();
    const bucket = buckets.get(id) ?? { tokens: capacity, at: now };
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    buckets.set(id, bucket);
    if (bucket.tokens < 1) {
      const retryAfter = Math.ceil((1 - bucket.tokens) / perSecond);
      res.set('Retry-After', String(retryAfter));
      throw new ApiError(429, 'rate-limited', `More than ${perSecond} writes a second with this key; retry after ${retryAfter} s`, { retryAfterSeconds: retryAfter });
    }
    bucket.tokens -= 1;
    next();
  };
}

/** A CPR-like value (DDMMYY-XXXX or ten digits) anywhere in a request body is refused, naming the field. */
export const refuseCprNumbers: RequestHandler = (req, _res, next) => {
  const found: string[] = [];
  const walk = (value: unknown, path: string) => {
    if (typeof value === 'string' && CPR_LIKE.test(value)) found.push(path || '(body)');
    else if (Array.isArray(value)) value.forEach((v, i) => walk(v, path ? `${path}.${i}` : String(i)));
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k);
  };
  walk(req.body, '');
  if (found.length > 0) {
    throw new ApiError(
      400,
      'cpr-number-refused',
      `A value looks like a CPR number (DDMMYY-XXXX or ten digits) in: ${found.join(', ')}; use pseudonymous references`,
      found.map((field) => ({ field, problem: 'looks like a CPR number; use a pseudonymous reference' })),
    );
  }
  next();
};
