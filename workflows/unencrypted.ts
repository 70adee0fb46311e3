import { ApplicationFailure, log } from '@temporalio/workflow';
import { CaseErrorType } from './messages';

/**
 * What a workflow receives in place of a payload that was not encrypted under a known key: the worker's codec
 * puts it there (platform/payload-codec.ts, `mark`), and the workflow refuses the start, signal or update
 * that carried it. Such a payload came from someone who reached Temporal directly, past the API.
 */
export const UNENCRYPTED_PAYLOAD_REFUSED = { refused: 'unencrypted-payload' } as const;

export const isUnencryptedPayload = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && (value as { refused?: unknown }).refused === UNENCRYPTED_PAYLOAD_REFUSED.refused;

const UNENCRYPTED = 'was not encrypted under a key of the keyring: it did not come through the API';

/** A workflow started in plain JSON fails at once, before it holds, publishes or writes anything. */
export function refuseUnencryptedStart(input: unknown): void {
  if (isUnencryptedPayload(input)) {
    throw ApplicationFailure.create({ message: `refused: the workflow's input ${UNENCRYPTED}`, type: CaseErrorType.UnencryptedPayload, nonRetryable: true });
  }
}

/** An update's validator: the caller is told, and nothing is recorded. */
export function refuseUnencryptedMessage(arg: unknown): void {
  if (isUnencryptedPayload(arg)) {
    throw ApplicationFailure.create({ message: `refused: the update's argument ${UNENCRYPTED}`, type: CaseErrorType.UnencryptedPayload, nonRetryable: true });
  }
}

/** A signal cannot be answered: an unencrypted one is dropped and logged, and the case goes on. */
export function droppedUnencrypted(signal: string, arg: unknown): boolean {
  if (!isUnencryptedPayload(arg)) return false;
  log.warn(`refused signal ${signal}: its argument ${UNENCRYPTED}`, { signal });
  return true;
}
