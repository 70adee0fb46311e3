import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROLES } from '../../platform/config';

/** Where the development API keys are kept in the data folder (npm run ops reads them). */
export const keysFile = (dataDir: string) => path.join(dataDir, 'api-keys.json');

/**
 * The development keys, made at the first start and kept with the data: one national key per role, and one
 * reader bound to Copenhagen (101) to try the municipality wall with (README, Municipality tenancy). Named
 * `role` or `role@municipalities` as API_KEYS writes them; a data folder from before the bound key gets it at
 * its next start.
 */
const BOUND_DEVELOPMENT_KEY = 'reader@101';

export function developmentKeys(dataDir: string): Record<string, string> {
  const file = keysFile(dataDir);
  const stored = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>) : {};
  const keys = { ...stored };
  for (const name of [...ROLES, BOUND_DEVELOPMENT_KEY]) keys[name] ??= randomBytes(24).toString('base64url');
  if (Object.keys(keys).length !== Object.keys(stored).length) writeFileSync(file, JSON.stringify(keys, null, 2) + '\n', { mode: 0o600 });
  return keys;
}
