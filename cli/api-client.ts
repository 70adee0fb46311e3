import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Role } from '../platform/config';

/** The options every tool that calls the API takes (for commandLine in cli.ts). */
export const API_OPTIONS = {
  api: { type: 'string' },
  key: { type: 'string' },
} as const;

export const API_OPTIONS_USAGE = `  --api URL   the API (else SFE_API_URL, else http://localhost:3000)
  --key KEY   the API key (else SFE_API_KEY, else the development key npm run dev keeps in .data/api-keys.json)`;

/**
 * How the command-line tools (ops, demo) reach the API: --api URL or SFE_API_URL (default
 * http://localhost:3000), and --key KEY or SFE_API_KEY, else the development key of the role that
 * `npm run dev` keeps in the data folder (.data/api-keys.json, or SFE_DATA_DIR).
 */
export function apiClient(options: { api?: string; key?: string }, role: Role | Role[]) {
  const base = options.api ?? process.env.SFE_API_URL ?? 'http://localhost:3000';
  const explicitKey = options.key ?? process.env.SFE_API_KEY;
  const keysFile = path.join(process.env.SFE_DATA_DIR ?? path.resolve(__dirname, '..', '..', '.data'), 'api-keys.json');
  const stored = existsSync(keysFile) ? (JSON.parse(readFileSync(keysFile, 'utf8')) as Record<string, string>) : {};
  const keyFor = (r: Role) => explicitKey ?? stored[r];

  /** Calls the API with the key of the first role given, or of `as`; a failure is thrown with the API's message. */
  async function call<T>(method: string, p: string, body?: unknown, as: Role = Array.isArray(role) ? role[0]! : role): Promise<{ status: number; body: T }> {
    const key = keyFor(as);
    if (!key) throw new Error(`no API key for the role ${as}: pass --key, set SFE_API_KEY, or start the system with npm run dev`);
    const res = await fetch(`${base}${p}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).catch((err: Error) => {
      throw new Error(`cannot reach the API at ${base} (${err.message}); is it running (npm run dev)?`);
    });
    const json = (await res.json()) as T & { error?: { message: string } };
    if (res.status >= 400) throw new Error(json.error?.message ?? `HTTP ${res.status}`);
    return { status: res.status, body: json };
  }
  return { base, call };
}
