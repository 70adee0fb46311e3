import { createHash, timingSafeEqual } from 'node:crypto';
import { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { looksLikeCpr } from '../workflows/domain/schemas';
import { type ApiKey, type Role } from '../platform/config';
import { ApiError } from './errors';

/**
 * API keys as bearer tokens, each with one role (platform/config.ts reads them from API_KEYS):
 *   case-system  starts cases and reports events (and reads them)
 *   ops          publishes, lifts and re-sends policy changes
 *   reader       reads cases, policies and reports
 * A key may be bound to municipalities (`role@101+147:key`): it then reaches only their cases, reports and
 * policies (README, Municipality tenancy); an unbound key is national.
 */
declare module 'express-serve-static-core' {
  interface Request {
    role?: Role;
    /** Which configured key authenticated the request (`role#position`), for rate limiting; never the key. */
    keyId?: string;
    /** The municipalities the key is bound to; undefined for a national key. */
    municipalities?: readonly string[];
  }
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** 401 without a valid `Authorization: Bearer <key>`. Keys are compared in constant time, as digests. */
export function authenticate(keys: ApiKey[]): RequestHandler {
  const known = keys.map((k, i) => ({ role: k.role, id: `${k.role}#${i}`, municipalities: k.municipalities, digest: digest(k.key) }));
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
    req.municipalities = found.municipalities;
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

/** Whether the request's key reaches cases of `municipality` (a national key reaches all). */
export function reaches(req: Request, municipality: string): boolean {
  return req.municipalities === undefined || req.municipalities.includes(municipality);
}

/** 403 for a key bound to municipalities: the route acts on every municipality (verify, repair, rebuild). */
export const nationalKeyOnly: RequestHandler = (req, _res, next) => {
  if (req.municipalities !== undefined) {
    throw new ApiError(403, 'national-key-required', `This acts on the cases of every municipality and needs a national key; this key is bound to ${req.municipalities.join(', ')}`);
  }
  next();
};

/**
 * Requests per key, writes and reads each in a token bucket: at most `writesPerSecond` (`readsPerSecond`) on
 * average, in bursts of up to twice that. The buckets live in this process: with `instances` API processes
 * behind one address each takes its share of the rate (API_INSTANCES), so a key gets the configured rate in
 * all, however the load balancer spreads its requests, and never that rate once per instance. (A shared bucket
 * in Postgres would cost a round trip and a hot row per request, and would fail every request while Postgres
 * is down, which case reads do not otherwise need.)
 */
export function rateLimit({ writesPerSecond, readsPerSecond, instances = 1 }: { writesPerSecond: number; readsPerSecond: number; instances?: number }): RequestHandler {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method === 'OPTIONS') return next();
    const write = req.method !== 'GET' && req.method !== 'HEAD';
    const configured = write ? writesPerSecond : readsPerSecond;
    const perSecond = configured / instances;
    // At least one request a burst, however many instances share a small rate.
    const capacity = Math.max(1, perSecond * 2);
    const id = `${write ? 'w' : 'r'}:${req.keyId ?? req.ip ?? 'anonymous'}`;
    const now = Date.now();
    const bucket = buckets.get(id) ?? { tokens: capacity, at: now };
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    buckets.set(id, bucket);
    if (bucket.tokens < 1) {
      const retryAfter = Math.ceil((1 - bucket.tokens) / perSecond);
      res.set('Retry-After', String(retryAfter));
      throw new ApiError(429, 'rate-limited', `More than ${configured} ${write ? 'writes' : 'reads'} a second with this key; retry after ${retryAfter} s`, { retryAfterSeconds: retryAfter });
    }
    bucket.tokens -= 1;
    next();
  };
}

const CPR_PROBLEM = 'looks like a CPR number; use a pseudonymous reference';

/**
 * Where a CPR-like value hides in a parsed value: the paths of its strings that look like one, as written or
 * NFKC-normalised. Iterative: a body's depth is bounded (api/bodies.ts), a query's is not.
 */
export function cprFields(value: unknown, path: string): string[] {
  const found: string[] = [];
  const stack: [unknown, string][] = [[value, path]];
  while (stack.length > 0) {
    const [v, at] = stack.pop()!;
    if (typeof v === 'string') {
      if (looksLikeCpr(v)) found.push(at);
    } else if (v && typeof v === 'object') {
      // Reversed onto the stack, so fields are named in the order the body has them.
      for (const [k, child] of Object.entries(v).reverse()) stack.push([child, at ? `${at}.${k}` : k]);
    }
  }
  return found;
}

/** The 400 for CPR-like values in the named fields; the values themselves are never repeated. */
export function cprRefused(fields: string[]): ApiError {
  return new ApiError(
    400,
    'cpr-number-refused',
    `A value looks like a CPR number (DDMMYY-XXXX, DDMMYY XXXX or ten digits) in: ${fields.join(', ')}; use pseudonymous references`,
    fields.map((field) => ({ field, problem: CPR_PROBLEM })),
  );
}

/**
 * A CPR-like value anywhere in a request's body, query string or path is refused, naming the field (body
 * fields by their path, `query.<name>` and `path`), before anything is done or logged with it.
 */
export const refuseCprNumbers: RequestHandler = (req, _res, next) => {
  let path: string;
  try {
    path = decodeURIComponent(req.path);
  } catch {
    path = req.path;
  }
  const found = [...cprFields(req.body, ''), ...cprFields(req.query, '').map((f) => `query.${f}`), ...(looksLikeCpr(path) ? ['path'] : [])].map((f) => f || '(body)');
  if (found.length > 0) throw cprRefused(found);
  next();
};
