import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROLES } from '../platform/config';
import { newKeySpec } from '../platform/payload-codec';

/**
 * Writes the keys and the password docker-compose.yml reads from `.env` (git-ignored; docker compose reads it by
 * itself): API_KEYS with one random key per role, PAYLOAD_KEYS with one payload encryption key, METRICS_KEY for
 * /metrics, and POSTGRES_PASSWORD for the database the read model and Temporal share. Variables already in .env are
 * kept, so running it again never changes a key that encrypted something.
 */
export function missingComposeKeys(existing: string): string[] {
  const has = (name: string) => new RegExp(`^${name}=`, 'm').test(existing);
  const lines: string[] = [];
  if (!has('API_KEYS')) lines.push(`API_KEYS=${ROLES.map((role) => `${role}:${randomBytes(24).toString('base64url')}`).join(',')}`);
  if (!has('PAYLOAD_KEYS')) lines.push(`PAYLOAD_KEYS=${newKeySpec(`compose-${new Date().toISOString().slice(0, 10)}`)}`);
  // Prometheus sends it as `authorization: { credentials: <METRICS_KEY> }`.
  if (!has('METRICS_KEY')) lines.push(`METRICS_KEY=${randomBytes(24).toString('base64url')}`);
  // base64url: it goes into DATABASE_URL as it is, and into the Temporal server's config between single quotes.
  if (!has('POSTGRES_PASSWORD')) lines.push(`POSTGRES_PASSWORD=${randomBytes(24).toString('base64url')}`);
  return lines;
}

/**
 * Appends what `file` lacks and leaves it readable by its owner only (0600), whatever mode it had before: an
 * existing .env keeps its mode through an append, and it now holds keys. Returns the names written.
 */
export function writeComposeEnv(file: string): string[] {
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : '';
  // Before the keys go in, so that they are never in a file others may read; a new file is made 0600.
  if (existsSync(file)) chmodSync(file, 0o600);
  const lines = missingComposeKeys(existing);
  if (lines.length > 0) writeFileSync(file, `${existing}${existing && !existing.endsWith('\n') ? '\n' : ''}${lines.join('\n')}\n`, { mode: 0o600 });
  return lines.map((l) => l.slice(0, l.indexOf('=')));
}

if (require.main === module) {
  const file = path.resolve(__dirname, '..', '..', '.env');
  const written = writeComposeEnv(file);
  process.stdout.write(
    written.length > 0 ? `wrote ${written.join(', ')} into ${file} (mode 0600)\n` : `${file} already holds API_KEYS, PAYLOAD_KEYS, METRICS_KEY and POSTGRES_PASSWORD (mode 0600)\n`,
  );
}
