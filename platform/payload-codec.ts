import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec, ValueError } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { UNENCRYPTED_PAYLOAD_REFUSED } from '../workflows/unencrypted';

/**
 * Encrypts every payload the system hands to Temporal (issue #12): AES-256-GCM over the whole payload
 * (its metadata and data, encoded as the Payload message), each payload tagged with the id of the key that
 * encrypted it. The worker, the API's client and the codec server share this module, as in Temporal's
 * samples (samples-typescript encryption/), and produce the same wire format: a 12-byte nonce, then the
 * ciphertext with its 16-byte tag, under metadata `encoding: binary/encrypted` and `encryption-key-id`.
 *
 * Rotation: a keyring holds one current key, which encrypts, and any number of older keys, which still
 * decrypt; running cases keep working with no re-encryption of stored histories.
 *
 * A payload that is not encrypted under a known key did not come from this system: anyone who can reach
 * Temporal could otherwise start a case or signal a policy in plain JSON, past the API's auth, tenancy and
 * checks (issue #23). What decode does with one is the `plaintext` option:
 * - `refuse` (clients: the API and the ops tools) fails the call;
 * - `mark` (the worker) hands the workflow the value UNENCRYPTED_PAYLOAD_REFUSED in its place, so the one
 *   start, signal or update is refused by the workflow and the case goes on: a failing decode would fail every
 *   workflow task of the case, and a plaintext signal would then stop a real case for good;
 * - `pass` (the codec server, which only shows an operator what Temporal holds) leaves it as it is.
 */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export interface Keyring {
  /** The id of the key that encrypts. */
  currentKeyId: string;
  /** Every key that may decrypt, by id, 32 bytes each. */
  keys: ReadonlyMap<string, Buffer>;
}

const utf8 = (text: string) => new TextEncoder().encode(text);
const text = (bytes: Uint8Array | null | undefined) => (bytes ? new TextDecoder().decode(bytes) : undefined);

/**
 * Reads a keyring from its text form: `id:base64key` pairs separated by commas, the first the current key
 * (e.g. `2026-11:...,2026-05:...`). Ids are letters, digits, '.', '_' and '-'. The error names the problem,
 * never a key.
 */
export function parseKeyring(spec: string, source = 'PAYLOAD_KEYS'): Keyring {
  const keys = new Map<string, Buffer>();
  const entries = spec.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (entries.length === 0) throw new Error(`${source} holds no key: give id:base64key pairs, the first being the current key`);
  for (const [i, entry] of entries.entries()) {
    const at = entry.indexOf(':');
    const id = at > 0 ? entry.slice(0, at) : '';
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) throw new Error(`${source}: entry ${i + 1} needs an id of letters, digits, '.', '_' or '-' before ':'`);
    const key = Buffer.from(entry.slice(at + 1), 'base64');
    if (key.length !== 32) throw new Error(`${source}: key ${id} must be 32 bytes in base64 (AES-256), not ${key.length}`);
    if (keys.has(id)) throw new Error(`${source}: key id ${id} appears twice`);
    keys.set(id, key);
  }
  return { currentKeyId: entries[0]!.slice(0, entries[0]!.indexOf(':')), keys };
}

/** A new random key in the keyring's text form (for the local stack's data folder). */
export function newKeySpec(id: string): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}

export type PlaintextHandling = 'refuse' | 'mark' | 'pass';

/** The payload the worker's workflows receive in place of an unencrypted one (see `mark` above). */
const REFUSED_PAYLOAD: Payload = {
  metadata: { [METADATA_ENCODING_KEY]: utf8('json/plain') },
  data: utf8(JSON.stringify(UNENCRYPTED_PAYLOAD_REFUSED)),
};

export class EncryptionCodec implements PayloadCodec {
  constructor(
    private readonly keyring: Keyring,
    private readonly plaintext: PlaintextHandling = 'refuse',
  ) {
    if (!keyring.keys.has(keyring.currentKeyId)) throw new Error(`the current key ${keyring.currentKeyId} is not in the keyring`);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const id = this.keyring.currentKeyId;
    const key = this.keyring.keys.get(id)!;
    return payloads.map((payload) => {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const data = Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return { metadata: { [METADATA_ENCODING_KEY]: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(id) }, data };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (text(payload.metadata?.[METADATA_ENCODING_KEY]) !== ENCRYPTED_ENCODING) {
        if (this.plaintext === 'pass') return payload;
        if (this.plaintext === 'mark') return REFUSED_PAYLOAD;
        throw new ValueError('payload is not encrypted: only payloads encrypted under a key of the keyring are accepted');
      }
      const id = text(payload.metadata?.[KEY_ID_METADATA]);
      const key = id === undefined ? undefined : this.keyring.keys.get(id);
      if (!key) throw new ValueError(`payload encrypted with key ${id ?? '(none)'}, which is not in the keyring`);
      const data = Buffer.from(payload.data ?? new Uint8Array());
      if (data.length < NONCE_BYTES + TAG_BYTES) throw new ValueError('encrypted payload too short');
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, NONCE_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      return temporal.api.common.v1.Payload.decode(plain) as Payload;
    });
  }
}
