import { DefaultFailureConverter } from '@temporalio/common';

/**
 * Failures keep their message and stack trace inside their encrypted details instead of in clear
 * (`encodeCommonAttributes`): an error message can name a case's facts. Loaded by path (the worker bundles
 * it into the workflow code, platform/temporal.ts and worker/worker.ts name it), so it has no other imports.
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
