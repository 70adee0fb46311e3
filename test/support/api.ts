import { type Role } from '../../platform/config';

/** What an API call answered: its status and its JSON body. */
export interface ApiAnswer {
  status: number;
  body: any;
}

/**
 * Calls the API with the key of `role`; by default the role the route is meant for (defaultRole), null for no key.
 * `instance` picks one API process of a stack that runs several.
 */
export type ApiCall = (method: string, path: string, body?: unknown, role?: Role | null, instance?: number) => Promise<ApiAnswer>;

/** The role a route is for: operations publish policies and run ops, readers read reports and policies, case systems do the rest. */
export function defaultRole(method: string, path: string): Role {
  if (path.startsWith('/api/v1/ops')) return 'ops';
  if (path.startsWith('/api/v1/policy-changes')) return method === 'GET' ? 'reader' : 'ops';
  if (path.startsWith('/api/v1/reports')) return 'reader';
  return 'case-system';
}

/**
 * The one API helper of the tests, whatever runs the API (a process of the stack or the test's own): `base()`
 * gives the address of each call, of `instance` when one is asked for (a stack with two API instances answers from each in turn). A string body
 * is sent as it is (for malformed JSON).
 */
export function apiCaller(base: (instance?: number) => string, keys: Record<Role, string>): ApiCall {
  return async (method, path, body, role, instance) => {
    const as = role === undefined ? defaultRole(method, path) : role;
    const res = await fetch(`${base(instance)}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(as ? { authorization: `Bearer ${keys[as]}` } : {}),
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
}
