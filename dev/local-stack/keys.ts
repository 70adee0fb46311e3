import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROLES } from '../../platform/config';
import { newKeySpec, parseKeyring } from '../../platform/payload-codec';
import { say } from './output';

/** Where the development API keys are kept in the data folder (npm run ops reads them). */
export const keysFile = (dataDir: string) => path.join(dataDir, 'api-keys.json');
const payloadKeyFile = (dataDir: string) => path.join(dataDir, 'payload-keys');

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

/**
 * The payload encryption key of the local stack (README: Payload encryption), made at the first start and
 * kept with the data: Temporal's SQLite file holds only what this key encrypted. PAYLOAD_KEYS or
 * PAYLOAD_KEY_FILE in the environment win.
 */
export function developmentPayloadKeys(dataDir: string, env: NodeJS.ProcessEnv): Record<string, string> {
  if (env.PAYLOAD_KEYS || env.PAYLOAD_KEY_FILE) return {};
  const file = payloadKeyFile(dataDir);
  if (!existsSync(file)) {
    writeFileSync(file, `${newKeySpec(`local-${new Date().toISOString().slice(0, 10)}`)}\n`, { mode: 0o600 });
    say(`payload encryption key made in ${file}`);
  }
  parseKeyring(readFileSync(file, 'utf8').replace(/\s+/g, ','), file);
  return { PAYLOAD_KEY_FILE: file };
}
