import { defaultPayloadConverter } from '@temporalio/common';
import { EncryptionCodec, KEY_ID_METADATA, newKeySpec, parseKeyring } from '../../platform/payload-codec';
import { isUnencryptedPayload, UNENCRYPTED_PAYLOAD_REFUSED } from '../../workflows/unencrypted';

/** The payload codec of issue #12: AES-256-GCM, each payload tagged with its key id, rotation by keyring. */
const event = { caseId: 'SAG-1', type: 'conversation-held', category: 3, note: 'livstruende sygdom' };
const text = (bytes: Uint8Array | null | undefined) => new TextDecoder().decode(bytes ?? new Uint8Array());

test('a payload is unreadable encoded and the same value decoded', async () => {
  const codec = new EncryptionCodec(parseKeyring(newKeySpec('k1')));
  const [encoded] = await codec.encode([defaultPayloadConverter.toPayload(event)]);
  expect(text(encoded!.metadata!.encoding)).toBe('binary/encrypted');
  expect(text(encoded!.metadata![KEY_ID_METADATA])).toBe('k1');
  expect(Buffer.from(encoded!.data!).toString('latin1')).not.toContain('SAG-1');
  expect(Buffer.from(encoded!.data!).toString('latin1')).not.toContain('json/plain');
  const [decoded] = await codec.decode([encoded!]);
  expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual(event);
});

test('after rotation the new key encrypts and the old one still decrypts; without the old key decoding fails naming the key', async () => {
  const old = newKeySpec('2026-05');
  const before = new EncryptionCodec(parseKeyring(old));
  const [stored] = await before.encode([defaultPayloadConverter.toPayload(event)]);
  const rotated = new EncryptionCodec(parseKeyring(`${newKeySpec('2026-11')},${old}`));
  const [fresh] = await rotated.encode([defaultPayloadConverter.toPayload(event)]);
  expect(text(fresh!.metadata![KEY_ID_METADATA])).toBe('2026-11');
  expect(defaultPayloadConverter.fromPayload((await rotated.decode([stored!]))[0]!)).toEqual(event);
  const forgotten = new EncryptionCodec(parseKeyring(newKeySpec('2026-11')));
  await expect(forgotten.decode([stored!])).rejects.toThrow('payload encrypted with key 2026-05, which is not in the keyring');
});

test('a tampered payload does not decrypt', async () => {
  const codec = new EncryptionCodec(parseKeyring(newKeySpec('k1')));
  const [encoded] = await codec.encode([defaultPayloadConverter.toPayload(event)]);
  const data = Buffer.from(encoded!.data!);
  data[20] = data[20]! ^ 1;
  await expect(codec.decode([{ ...encoded!, data }])).rejects.toThrow();
});

test('a plain payload is refused by clients, replaced by the refusal marker for the worker, shown as it is by the codec server', async () => {
  const keyring = parseKeyring(newKeySpec('k1'));
  const plain = defaultPayloadConverter.toPayload(event);
  await expect(new EncryptionCodec(keyring).decode([plain])).rejects.toThrow('payload is not encrypted');
  const [marked] = await new EncryptionCodec(keyring, 'mark').decode([plain]);
  expect(defaultPayloadConverter.fromPayload(marked!)).toEqual(UNENCRYPTED_PAYLOAD_REFUSED);
  expect(isUnencryptedPayload(defaultPayloadConverter.fromPayload(marked!))).toBe(true);
  expect(isUnencryptedPayload(event)).toBe(false);
  expect(await new EncryptionCodec(keyring, 'pass').decode([plain])).toEqual([plain]);
  // An encrypted payload decodes the same in every mode.
  const [encoded] = await new EncryptionCodec(keyring).encode([plain]);
  for (const mode of ['refuse', 'mark', 'pass'] as const) {
    const [decoded] = await new EncryptionCodec(keyring, mode).decode([encoded!]);
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual(event);
  }
});

test('a bad keyring is refused with what is wrong, never the key', () => {
  expect(() => parseKeyring('')).toThrow('PAYLOAD_KEYS holds no key');
  expect(() => parseKeyring('k1:c2hvcnQ=')).toThrow('PAYLOAD_KEYS: key k1 must be 32 bytes in base64 (AES-256), not 5');
  expect(() => parseKeyring(':abc')).toThrow("PAYLOAD_KEYS: entry 1 needs an id");
  const spec = newKeySpec('k1');
  expect(() => parseKeyring(`${spec},${spec}`)).toThrow('PAYLOAD_KEYS: key id k1 appears twice');
  try {
    parseKeyring('k1:c2hvcnQ=');
  } catch (err) {
    expect(String(err)).not.toContain('c2hvcnQ');
  }
});
