import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROLES } from '../platform/config';
import { newKeySpec } from '../platform/payload-codec';

/**
 * Writes the keys docker-compose.yml reads from `.env` (git-ignored; docker compose reads it by itself):
 * API_KEYS with one random key per role, PAYLOAD_KEYS with one payload encryption key, and METRICS_KEY for
 * /metrics. Variables
 * already in .env are kept, so running it again never changes a key that encrypted something.
 */
export function missingComposeKeys(existing: string): string[] {
  const has = (name: string) => new RegExp(`^${name}=`, 'm').test(existing);
  const lines: string[] = [];
  if (!has('API_KEYS')) lines.push(`API_KEYS=${ROLES.map((role) => `${role}:${randomBytes(24).toString('base64url')}`).join(',')}`);
  if (!has('PAYLOAD_KEYS')) lines.push(`PAYLOAD_KEYS=${newKeySpec(`compose-${new Date().toISOString().slice(0, 10)}`)}`);
  // Prometheus sends it as `authorization: { credentials: <METRICS_KEY> }`.
  if (!has('METRICS_KEY')) lines.push(`METRICS_KEY=${randomBytes(24).toString('base64url')}`);
  return lines;
}

if (require.main === module) {
  const file = path.resolve(__dirname, '..', '..', '.env');
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const lines = missingComposeKeys(existing);
  if (lines.length > 0) writeFileSync(file, `${existing}${existing && !existing.endsWith('\n') ? '\n' : ''}${lines.join('\n')}\n`, { mode: 0o600 });
  process.stdout.write(lines.length > 0 ? `wrote ${lines.map((l) => l.split('=')[0]).join(' and ')} into ${file}\n` : `${file} already holds API_KEYS, PAYLOAD_KEYS and METRICS_KEY\n`);
}
