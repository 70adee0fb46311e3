import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils';
import { type Timeline } from './types';

/**
 * JSON with object keys in code-unit order at every depth and no whitespace: one text for one value, however
 * its keys were ordered. Postgres' jsonb reorders keys, so a row's timeline read back gives the same text as
 * the workflow's own. Absent (undefined) fields are left out and undefined array items are null, as in JSON.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v: unknown) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
}

/**
 * The fingerprint of a case's snapshot: SHA-256 of its timeline's canonical JSON, first 128 bits in hex. The
 * workflow publishes it (the CaseFingerprint search attribute) and the read model stores it with the row, so
 * verify compares content, not only change counters: a reset, a restore from elsewhere or a hand edit is
 * found. @noble/hashes because workflow code has no node:crypto; it is pure, audited and deterministic.
 */
export function timelineFingerprint(timeline: Timeline): string {
  return bytesToHex(sha256(utf8ToBytes(canonicalJson(timeline)))).slice(0, 32);
}
