import { type RequestHandler } from 'express';
import { pathPattern } from '../bodies';
import { ApiError } from '../errors';
import { type Operation } from './operation';

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
