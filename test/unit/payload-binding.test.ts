import { defaultPayloadConverter, type Payload, type SerializationContext } from '@temporalio/common';
import { encode, decode } from '@temporalio/common/lib/internal-non-workflow/codec-helpers';
import { BOUND_NAMESPACE, BOUND_WORKFLOW_ID } from '../../platform/payload-binding';
import { EncryptionCodec, newKeySpec, parseKeyring } from '../../platform/payload-codec';
import { caseDataConverter } from '../../platform/temporal';
import { isUnencryptedPayload } from '../../workflows/unencrypted';

/**
 * Issue #23: a ciphertext is bound to the workflow it was written for (the SDK's serialization context), inside
 * the encryption, so one copied out of a case's history into another case's start, signal or update is refused.
 */
const keyring = parseKeyring(newKeySpec('k1'));
const event = { eventId: 'e1', type: 'recovered', occurredOn: '2026-11-20' };
const caseA: SerializationContext = { type: 'workflow', namespace: 'default', workflowId: 'case-A' };
const caseB: SerializationContext = { type: 'workflow', namespace: 'default', workflowId: 'case-B' };
const codecs = (plaintext: 'refuse' | 'mark' = 'refuse') => caseDataConverter(keyring, plaintext).payloadCodecs!;
const written = async (context?: SerializationContext): Promise<Payload> => (await encode(codecs(), [defaultPayloadConverter.toPayload(event)], context))[0]!;
const read = async (payload: Payload, context?: SerializationContext, plaintext: 'refuse' | 'mark' = 'refuse') => (await decode(codecs(plaintext), [payload], context))[0]!;

test('a payload written for a case reads back the same value for that case, its binding taken off', async () => {
  const payload = await written(caseA);
  const decoded = await read(payload, caseA);
  expect(Object.keys(decoded.metadata!)).toEqual(['encoding']);
  expect(Buffer.from(decoded.data!)).toEqual(Buffer.from(defaultPayloadConverter.toPayload(event).data!));
  expect(defaultPayloadConverter.fromPayload(decoded)).toEqual(event);
});

test('the binding is inside the ciphertext: the stored payload shows neither it nor the value', async () => {
  const payload = await written(caseA);
  expect(Object.keys(payload.metadata!).sort()).toEqual(['encoding', 'encryption-key-id']);
  expect(Buffer.from(payload.data!).toString('latin1')).not.toContain('case-A');
  // Decrypted alone, the inner payload carries the owner.
  const [inner] = await new EncryptionCodec(keyring).decode([payload]);
  expect(Buffer.from(inner!.metadata![BOUND_WORKFLOW_ID]!).toString()).toBe('case-A');
  expect(Buffer.from(inner!.metadata![BOUND_NAMESPACE]!).toString()).toBe('default');
});

test('copied into another case, a payload is refused by clients and replaced by the refusal marker in the worker', async () => {
  const payload = await written(caseA);
  await expect(read(payload, caseB)).rejects.toThrow('payload belongs to another workflow than case-B');
  const marked = await read(payload, caseB, 'mark');
  expect(isUnencryptedPayload(defaultPayloadConverter.fromPayload(marked))).toBe(true);
  // Another namespace with the same workflow id is another workflow.
  await expect(read(payload, { ...caseA, namespace: 'other' })).rejects.toThrow('belongs to another workflow');
});

test("an activity's payloads belong to the workflow that scheduled it", async () => {
  const activity: SerializationContext = { type: 'activity', namespace: 'default', workflowId: 'case-A', activityId: '1', isLocal: false };
  const payload = await written(activity);
  expect(defaultPayloadConverter.fromPayload(await read(payload, { ...activity, activityId: '7' }))).toEqual(event);
  expect(defaultPayloadConverter.fromPayload(await read(payload, caseA))).toEqual(event);
  await expect(read(payload, { ...activity, workflowId: 'case-B' })).rejects.toThrow('belongs to another workflow');
});

test('unbound payloads (written before the binding, or without a context) read anywhere; without a context nothing is checked', async () => {
  const before = (await new EncryptionCodec(keyring).encode([defaultPayloadConverter.toPayload(event)]))[0]!;
  expect(defaultPayloadConverter.fromPayload(await read(before, caseB, 'mark'))).toEqual(event);
  const noContext = await written(undefined);
  expect(defaultPayloadConverter.fromPayload(await read(noContext, caseB))).toEqual(event);
  expect(defaultPayloadConverter.fromPayload(await read(await written(caseA), undefined))).toEqual(event);
});
